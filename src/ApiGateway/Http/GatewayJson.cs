using System.Text.Json;
using System.Text.Json.Serialization;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Catalog;
using NoEtl.ApiGateway.Commands;
using NoEtl.ApiGateway.Credentials;
using NoEtl.ApiGateway.Events;
using NoEtl.ApiGateway.Executions;
using NoEtl.ApiGateway.Health;
using NoEtl.ApiGateway.Internal;
using NoEtl.ApiGateway.Keychain;
using NoEtl.ApiGateway.ResultStore;
using NoEtl.ApiGateway.Runtime;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// The typed routes' request and answer records, serialized by generated code with NoETL's snake_case names. Null
/// fields are written (NoETL's answers carry <c>null</c>, not absent fields).
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(SessionTokenRequest))]
[JsonSerializable(typeof(SessionValidation))]
[JsonSerializable(typeof(ValidationErrors))]
[JsonSerializable(typeof(Liveness))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(AuditRecords))]
[JsonSerializable(typeof(WorkerRegistrationRequest))]
[JsonSerializable(typeof(WorkerHeartbeatRequest))]
[JsonSerializable(typeof(WorkerNameRequest))]
[JsonSerializable(typeof(WorkerRegistered))]
[JsonSerializable(typeof(WorkerHeartbeat))]
[JsonSerializable(typeof(WorkerDeregistered))]
[JsonSerializable(typeof(WorkerPoolList))]
[JsonSerializable(typeof(KeychainEntryRequest))]
[JsonSerializable(typeof(CredentialRequest))]
[JsonSerializable(typeof(PurgeSettings))]
[JsonSerializable(typeof(PurgeReport))]
[JsonSerializable(typeof(CredentialView))]
[JsonSerializable(typeof(CredentialList))]
[JsonSerializable(typeof(CredentialDeleted))]
[JsonSerializable(typeof(CredentialRotation))]
[JsonSerializable(typeof(KeychainCatalog))]
[JsonSerializable(typeof(KeychainEntryRead))]
[JsonSerializable(typeof(KeychainMiss))]
[JsonSerializable(typeof(KeychainStored))]
[JsonSerializable(typeof(KeychainDeleted))]
[JsonSerializable(typeof(CatalogDocumentRequest))]
[JsonSerializable(typeof(CatalogListRequest))]
[JsonSerializable(typeof(CatalogResourceRequest))]
[JsonSerializable(typeof(AgentListRequest))]
[JsonSerializable(typeof(CatalogRegistration))]
[JsonSerializable(typeof(CatalogEntries))]
[JsonSerializable(typeof(CatalogEntry))]
[JsonSerializable(typeof(PlaybookValidation))]
[JsonSerializable(typeof(PlaybookContent))]
[JsonSerializable(typeof(RunForm))]
[JsonSerializable(typeof(OutboxClaimRequest))]
[JsonSerializable(typeof(OutboxIdsRequest))]
[JsonSerializable(typeof(OutboxFailureRequest))]
[JsonSerializable(typeof(OutboxRequeueRequest))]
[JsonSerializable(typeof(OutboxClaim))]
[JsonSerializable(typeof(OutboxMarked))]
[JsonSerializable(typeof(OutboxFailed))]
[JsonSerializable(typeof(OutboxPending))]
[JsonSerializable(typeof(DeadLetters))]
[JsonSerializable(typeof(OutboxRequeued))]
[JsonSerializable(typeof(ProjectEventsRequest))]
[JsonSerializable(typeof(EventsProjected))]
[JsonSerializable(typeof(WorkerEventRequest))]
[JsonSerializable(typeof(WorkerEventBatchRequest))]
[JsonSerializable(typeof(EventAccepted))]
[JsonSerializable(typeof(BatchAccepted))]
[JsonSerializable(typeof(ClaimRequest))]
[JsonSerializable(typeof(CommandClaim))]
[JsonSerializable(typeof(CommandView))]
[JsonSerializable(typeof(ExecuteRequest))]
[JsonSerializable(typeof(CancelRequest))]
[JsonSerializable(typeof(RerunRequest))]
[JsonSerializable(typeof(AnalyzeRequest))]
[JsonSerializable(typeof(ExecutionStarted))]
[JsonSerializable(typeof(IReadOnlyList<ExecutionSummary>))]
[JsonSerializable(typeof(ExecutionDetail))]
[JsonSerializable(typeof(ExecutionAnalysis))]
[JsonSerializable(typeof(ExecutionStatusReport))]
[JsonSerializable(typeof(CancellationState))]
[JsonSerializable(typeof(Cancellation))]
[JsonSerializable(typeof(ResultRequest))]
[JsonSerializable(typeof(StoredResult))]
[JsonSerializable(typeof(ResultView))]
public sealed partial class GatewayJson : JsonSerializerContext
{
    /// <summary>The HTTP JSON settings of every route: these records first, the reflection resolver for the rest.</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.TypeInfoResolverChain.Insert(0, Default);
    }
}
