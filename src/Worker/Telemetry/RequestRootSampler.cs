using System.Diagnostics;
using OpenTelemetry.Trace;

namespace NoEtl.Worker.Telemetry;

/// <summary>
/// Traces start at a request: a span without a parent is kept only if it serves one (server or consumer kind).
/// Everything else that would start its own trace (heartbeats, registration, outbox polling) is dropped; dropped
/// spans still propagate their context unsampled, so the server drops what they cause too.
/// </summary>
public sealed class RequestRootSampler : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        new(samplingParameters.Kind is ActivityKind.Server or ActivityKind.Consumer ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
}
