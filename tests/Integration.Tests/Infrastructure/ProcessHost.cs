using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>One real server process (silo, gateway, worker) started from the build output, with its output kept.</summary>
public sealed class ProcessHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ProcessHost(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Starts a .NET program of this repository from its build output.</summary>
    public static ProcessHost Start(string name, string assemblyPath, IDictionary<string, string> environment, params string[] arguments) =>
        StartIn(null, name, assemblyPath, environment, arguments);

    /// <summary>
    /// Starts a .NET program of this repository inside a network namespace (<c>ip netns exec</c>, which execs the
    /// program: the process id is the program's, so a kill reaches it), or on the host when the namespace is null.
    /// </summary>
    public static ProcessHost StartIn(string? networkNamespace, string name, string assemblyPath, IDictionary<string, string> environment, params string[] arguments)
    {
        if (!File.Exists(assemblyPath))
            throw new FileNotFoundException($"{name}: build output not found; build the solution first", assemblyPath);
        var directory = Path.GetDirectoryName(assemblyPath)!;
        return networkNamespace is null
            ? StartProgram(name, "dotnet", directory, environment, [assemblyPath, .. arguments])
            : StartProgram(name, "ip", directory, environment, ["netns", "exec", networkNamespace, "dotnet", assemblyPath, .. arguments]);
    }

    public static ProcessHost StartProgram(string name, string fileName, string workingDirectory, IDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new ProcessHost(name, process);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits until <paramref name="url"/> answers 200, failing early if the process died.</summary>
    public async Task WaitHealthyAsync(string url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Tail()}");
            try
            {
                using var response = await http.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name} did not become healthy at {url} within {timeout}:\n{Tail()}");
    }

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, as a crash would: no graceful shutdown.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM and wait: a graceful stop.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
            return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
            await kill.WaitForExitAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { Kill(); }
    }

    public string Tail(int lines = 60)
    {
        var all = Output.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A port free now, chosen below the kernel's ephemeral range (32768+): a port the kernel hands out for port 0 is
    /// also what outgoing connections get, so one could take it before the process that is given it binds it.
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // in use: try another
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            if (_output.Length < 4_000_000)
                _output.AppendLine(line);
        }
    }
}
