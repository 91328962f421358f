namespace NoEtl.Grains;

/// <summary>
/// <see cref="IGrainFactory.GetGrain{TGrainInterface}(long, string)"/> without its per-call cost: Orleans resolves the
/// interface's grain type by reflecting over attributes on every call (a sixth of the gateway's CPU per request in the
/// events benchmark). The grain and interface types are fixed for the process, so they are resolved once per interface.
/// </summary>
public static class GrainReferences
{
    public static TGrainInterface Reference<TGrainInterface>(this IGrainFactory grains, long key)
        where TGrainInterface : IGrainWithIntegerKey
    {
        var (grainType, interfaceType) = Types<TGrainInterface>.Resolved ??= Resolve<TGrainInterface>(grains);
        return (TGrainInterface)grains.GetGrain(GrainId.Create(grainType, GrainIdKeyExtensions.CreateIntegerKey(key)), interfaceType);
    }

    private static (GrainType, GrainInterfaceType) Resolve<TGrainInterface>(IGrainFactory grains)
        where TGrainInterface : IGrainWithIntegerKey
    {
        var sample = (GrainReference)(object)grains.GetGrain<TGrainInterface>(0);
        return (sample.GrainId.Type, sample.InterfaceType);
    }

    private static class Types<TGrainInterface>
    {
        public static (GrainType, GrainInterfaceType)? Resolved;
    }
}
