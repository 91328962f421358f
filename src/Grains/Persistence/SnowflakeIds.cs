namespace NoEtl.Grains.Persistence;

/// <summary>
/// NoETL's app-side snowflake layout: <c>(ms - 2024-01-01Z) &lt;&lt; 22 | node(10 bits) &lt;&lt; 12 | seq(12 bits)</c>.
/// Each silo process gets its own node id (allocated from <c>noetl.snowflake_node_seq</c> at start-up),
/// so ids are unique across silos without coordination per id.
/// </summary>
public sealed class SnowflakeIds
{
    public const long EpochMs = 1704067200000;
    private const int NodeBits = 10;
    private const int SequenceBits = 12;
    private const long SequenceMask = (1L << SequenceBits) - 1;

    private readonly long _node;
    private readonly Func<long> _clockMs;
    private readonly Lock _gate = new();
    private long _lastMs = -1;
    private long _sequence;

    public SnowflakeIds(int nodeId, Func<long>? clockMs = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(nodeId, 1 << NodeBits);
        _node = nodeId;
        _clockMs = clockMs ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    public int NodeId => (int)_node;

    public long Next()
    {
        lock (_gate)
        {
            var now = Math.Max(_clockMs(), _lastMs); // never go back in time, even if the wall clock does
            if (now == _lastMs)
            {
                _sequence = (_sequence + 1) & SequenceMask;
                if (_sequence == 0)
                    now = ++_lastMs; // 4096 ids in one millisecond: borrow the next one
            }
            else
            {
                _sequence = 0;
            }
            _lastMs = now;
            return ((now - EpochMs) << (NodeBits + SequenceBits)) | (_node << SequenceBits) | _sequence;
        }
    }
}
