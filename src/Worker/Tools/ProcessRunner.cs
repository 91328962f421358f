using System.Diagnostics;
using System.Text;

namespace NoEtl.Worker.Tools;

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, bool TimedOut);

/// <summary>Runs a child process with captured, size-capped output; kills the whole tree on timeout or cancellation.</summary>
public static class ProcessRunner
{
    /// <summary>Caps each captured stream so a chatty script cannot exhaust the worker's memory.</summary>
    public const int MaxCapturedChars = 1 << 20;

    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string? stdin,
        IReadOnlyDictionary<string, string>? environment,
        string? workingDirectory,
        TimeSpan timeout,
        CancellationToken ct)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        using var process = new Process { StartInfo = info };
        var stdout = new CappedBuffer();
        var stderr = new CappedBuffer();
        process.OutputDataReceived += (_, e) => stdout.AppendLine(e.Data);
        process.ErrorDataReceived += (_, e) => stderr.AppendLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeoutCts.CancelAfter(timeout);
        var timedOut = false;
        try
        {
            try
            {
                if (stdin is not null)
                {
                    await process.StandardInput.WriteAsync(stdin.AsMemory(), timeoutCts.Token);
                }
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The child exited without reading its stdin; its exit code tells the story.
            }
            await process.WaitForExitAsync(timeoutCts.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = !ct.IsCancellationRequested;
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
            await process.WaitForExitAsync(CancellationToken.None);
            ct.ThrowIfCancellationRequested();
        }
        // The parameterless wait flushes the asynchronous stdout/stderr readers.
        process.WaitForExit();
        return new ProcessResult(timedOut ? -1 : process.ExitCode, stdout.ToString(), stderr.ToString(), timedOut);
    }

    private sealed class CappedBuffer
    {
        private readonly StringBuilder _text = new();
        private bool _truncated;

        public void AppendLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_text)
            {
                if (_text.Length + line.Length + 1 > MaxCapturedChars)
                {
                    _truncated = true;
                    return;
                }
                if (_text.Length > 0)
                {
                    _text.Append('\n');
                }
                _text.Append(line);
            }
        }

        public override string ToString()
        {
            lock (_text)
            {
                return _truncated ? _text + "\n[output truncated]" : _text.ToString();
            }
        }
    }
}
