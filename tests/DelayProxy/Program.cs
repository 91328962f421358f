// A TCP relay that adds a fixed delay to each direction: latency for the network-namespace rig, whose kernel has no
// sch_netem (scripts/netns-rig.sh `delay` runs it inside a namespace and sends that namespace's connections to a peer
// through it with iptables DNAT). Every chunk read is written DELAY_MS later, in order; reading goes on meanwhile, so
// the link keeps its throughput and only gains latency. Its own connections to the target carry SO_MARK MARK, so the
// DNAT rule can let them through instead of looping them back.
//
//   NoEtl.DelayProxy LISTEN_ADDRESS:PORT TARGET_ADDRESS:PORT DELAY_MS [MARK]
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

if (args.Length is < 3 or > 4 || !IPEndPoint.TryParse(args[0], out var listen) || !IPEndPoint.TryParse(args[1], out var target)
    || !int.TryParse(args[2], out var delayMs) || delayMs < 0 || (args.Length == 4 && !int.TryParse(args[3], out _)))
{
    Console.Error.WriteLine("usage: NoEtl.DelayProxy LISTEN_ADDRESS:PORT TARGET_ADDRESS:PORT DELAY_MS [MARK]");
    return 2;
}
var delay = TimeSpan.FromMilliseconds(delayMs);
var mark = args.Length == 4 ? int.Parse(args[3]) : 0;
const int SolSocket = 1, SoMark = 36; // Linux <sys/socket.h>

using var listener = new TcpListener(listen);
listener.Start();
Console.WriteLine($"relaying {listen} -> {target} with {delayMs} ms each way");
while (true)
{
    var client = await listener.AcceptSocketAsync();
    _ = RelayAsync(client);
}

async Task RelayAsync(Socket client)
{
    using var downstream = client;
    using var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp);
    downstream.NoDelay = upstream.NoDelay = true;
    if (mark != 0)
        upstream.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(mark));
    try
    {
        await upstream.ConnectAsync(target);
    }
    catch (SocketException)
    {
        return; // closing the client's connection tells it the target is unreachable
    }
    // Either direction ending closes both, as a broken link would.
    await Task.WhenAny(PumpAsync(downstream, upstream), PumpAsync(upstream, downstream));
}

async Task PumpAsync(Socket from, Socket to)
{
    var due = Channel.CreateUnbounded<(long At, byte[] Data)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    var sending = SendWhenDueAsync(due.Reader, to);
    var buffer = new byte[64 * 1024];
    try
    {
        int read;
        while ((read = await from.ReceiveAsync(buffer)) > 0)
            due.Writer.TryWrite((Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency), buffer[..read]));
    }
    catch (Exception e) when (e is SocketException or ObjectDisposedException)
    {
    }
    due.Writer.TryComplete();
    await sending;
}

static async Task SendWhenDueAsync(ChannelReader<(long At, byte[] Data)> due, Socket to)
{
    try
    {
        await foreach (var (at, data) in due.ReadAllAsync())
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at);
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait);
            await to.SendAsync(data);
        }
        to.Shutdown(SocketShutdown.Send);
    }
    catch (Exception e) when (e is SocketException or ObjectDisposedException)
    {
    }
}
