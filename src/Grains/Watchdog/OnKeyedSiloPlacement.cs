using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace NoEtl.Grains.Watchdog;

/// <summary>Places a grain on the silo whose address (<see cref="SiloAddress.ToParsableString"/>) is its key.</summary>
[GenerateSerializer, Immutable, Alias("noetl.OnKeyedSiloPlacement")]
public sealed class OnKeyedSiloPlacement : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class OnKeyedSiloPlacementAttribute() : PlacementAttribute(new OnKeyedSiloPlacement());

/// <summary>
/// A key naming no compatible silo (it left the cluster) fails the activation: asking another silo instead would
/// answer for the wrong one.
/// </summary>
public sealed class OnKeyedSiloPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        var silo = context.GetCompatibleSilos(target).FirstOrDefault(s => s.ToParsableString() == key);
        return silo is not null
            ? Task.FromResult(silo)
            : throw new SiloUnavailableException($"no active silo {key} to place {target.GrainIdentity} on");
    }
}
