using System.Diagnostics;
using OpenTelemetry.Trace;

namespace NoEtl.ApiGateway.Telemetry;

/// <summary>
/// Traces start at a request: a span without a parent is kept only if it serves one (server or consumer kind).
/// Everything else that would start its own trace (the dashboard's one-second polling, membership and reminder
/// queries, timers) is dropped; dropped spans still propagate their context unsampled, so the grain calls and
/// SQL they cause on other silos are dropped too. Use inside a ParentBasedSampler.
/// </summary>
public sealed class RequestRootSampler : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        new(samplingParameters.Kind is ActivityKind.Server or ActivityKind.Consumer ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
}
