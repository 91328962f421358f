using System.Diagnostics;
using OpenTelemetry.Trace;

namespace NoEtl.Telemetry;

/// <summary>
/// Traces start at a request: a span without a parent is kept only if it serves one (server or consumer kind).
/// Everything else that would start its own trace (dashboard polling, membership and reminder queries, timers,
/// worker heartbeats and outbox polling) is dropped; dropped spans still propagate their context unsampled, so
/// what they cause in other processes is dropped too. Use inside a ParentBasedSampler.
/// One source file compiled into the silo, the gateway and the worker, which share no assembly.
/// </summary>
internal sealed class RequestRootSampler : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        new(samplingParameters.Kind is ActivityKind.Server or ActivityKind.Consumer ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
}
