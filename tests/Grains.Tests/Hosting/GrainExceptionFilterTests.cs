using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using NoEtl.Grains.Hosting;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;

namespace NoEtl.Grains.Tests.Hosting;

/// <summary>What crosses to the gateway when one of our grains fails: its answer (500, or 503/504 worth a retry) depends on the type.</summary>
public sealed class GrainExceptionFilterTests
{
    private readonly GrainExceptionFilter _filter = new(NullLogger<GrainExceptionFilter>.Instance);

    public static TheoryData<Exception> ClusterFailures => new()
    {
        new SiloUnavailableException("the target silo became unavailable"),
        // Orleans makes these itself (its constructors are not public).
        (OrleansMessageRejectionException)RuntimeHelpers.GetUninitializedObject(typeof(OrleansMessageRejectionException)),
        new TimeoutException("response did not arrive on time"),
    };

    [Theory]
    [MemberData(nameof(ClusterFailures))]
    public async Task A_call_to_another_silo_that_failed_crosses_as_it_is_so_the_caller_can_retry(Exception failure)
    {
        var crossed = await Assert.ThrowsAnyAsync<Exception>(() => _filter.Invoke(new FailingCall(failure)));
        Assert.Same(failure, crossed);
    }

    [Fact]
    public async Task Any_other_failure_crosses_as_a_grain_failure_without_its_text()
    {
        var crossed = await Assert.ThrowsAsync<GrainFailedException>(() =>
            _filter.Invoke(new FailingCall(new InvalidOperationException("secret internals"))));
        Assert.DoesNotContain("secret", crossed.Message);
    }

    /// <summary>An incoming call to one of our grains whose invocation throws <paramref name="failure"/>.</summary>
    private sealed class FailingCall(Exception failure) : IIncomingGrainCallContext
    {
        public string InterfaceName => "NoEtl.Grains.IExecutionDirectoryGrain";
        public string MethodName => "Execute";
        public Task Invoke() => Task.FromException(failure);
        public IInvokable Request => throw new NotSupportedException();
        public object Grain => this;
        public GrainId? SourceId => null;
        public GrainId TargetId => default;
        public GrainInterfaceType InterfaceType => default;
        public MethodInfo InterfaceMethod => throw new NotSupportedException();
        public object? Result { get => null; set { } }
        public Response? Response { get => null; set { } }
        public IGrainContext TargetContext => throw new NotSupportedException();
        public MethodInfo ImplementationMethod => throw new NotSupportedException();
    }
}
