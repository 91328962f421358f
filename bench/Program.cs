using NoEtl.Bench;

// dotnet run -c Release --project bench -- <scenarios|all> [options]; see BenchOptions.Usage.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var outcome = await BenchRunner.RunAsync(options, Console.WriteLine);
Console.WriteLine();
Console.WriteLine(outcome.Markdown);
if (outcome.RecordedTo is not null)
    Console.WriteLine($"appended to {outcome.RecordedTo}");
// A silo declared dead fails the run like an error: the figures after it are not the cluster's.
return outcome.All.Any(r => r.Errors > 0 || r.Resources?.DeadSilos is { Count: > 0 }) ? 1 : 0;
