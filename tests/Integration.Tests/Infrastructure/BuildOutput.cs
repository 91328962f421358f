namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>Finds the deployables built with the same configuration as this test assembly.</summary>
public static class BuildOutput
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    public static string Assembly(string project, string assemblyName) =>
        Path.Combine(RepositoryRoot, "src", project, "bin", Configuration, "net10.0", assemblyName + ".dll");

    public static string Silo => Assembly("Silo", "NoEtl.Silo");

    public static string Gateway => Assembly("ApiGateway", "NoEtl.ApiGateway");

    public static string Worker => Assembly("Worker", "NoEtl.Worker");

    public static string Cli => Assembly("Cli", "noetl");

    /// <summary>The TCP relay with a fixed delay (tests/DelayProxy): latency, and a link to cut by killing it.</summary>
    public static string DelayProxy =>
        Path.Combine(RepositoryRoot, "tests", "DelayProxy", "bin", Configuration, "net10.0", "NoEtl.DelayProxy.dll");

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NoEtl.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("NoEtl.sln not found above " + AppContext.BaseDirectory);
    }
}
