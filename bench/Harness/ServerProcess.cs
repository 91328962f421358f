using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NoEtl.Bench.Harness;

/// <summary>A silo or gateway process started from the build output; its output is kept for error messages.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public static ServerProcess Start(string name, string assemblyPath, IDictionary<string, string> environment)
    {
        if (!File.Exists(assemblyPath))
            throw new FileNotFoundException($"{name}: build output not found (dotnet build -c Release src/Silo; dotnet build -c Release src/ApiGateway)", assemblyPath);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assemblyPath)!,
        };
        start.ArgumentList.Add(assemblyPath);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var process = new Process { StartInfo = start };
        var host = new ServerProcess(name, process);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

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

    public string Tail(int lines = 40)
    {
        string text;
        lock (_output)
            text = _output.ToString();
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            // Only the tail is ever shown; cap memory for long runs.
            if (_output.Length > 1_000_000)
                _output.Remove(0, 500_000);
            _output.AppendLine(line);
        }
    }
}
