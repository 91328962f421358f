using NoEtl.Cli;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Let the running command stop its polling loop and restore the terminal line instead of dying mid-write.
    e.Cancel = true;
    cancel.Cancel();
};

var host = new CliHost(Console.Out, Console.Error, Environment.GetEnvironmentVariable, CliHost.StdoutIsTerminal());
return await CliApp.RunAsync(args, host, cancel.Token);
