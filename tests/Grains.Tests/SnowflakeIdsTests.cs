using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Tests;

public sealed class SnowflakeIdsTests
{
    [Fact]
    public void Layout_is_NoETLs_app_side_layout()
    {
        var now = SnowflakeIds.EpochMs + 123_456;
        var ids = new SnowflakeIds(nodeId: 5, clockMs: () => now);
        var id = ids.Next();
        Assert.Equal(123_456, id >> 22);
        Assert.Equal(5, (id >> 12) & 0x3FF);
        Assert.Equal(0, id & 0xFFF);
        Assert.Equal(1, ids.Next() & 0xFFF);
    }

    [Fact]
    public void Ids_grow_strictly_even_when_the_clock_stalls_or_goes_back()
    {
        var clock = SnowflakeIds.EpochMs + 1000;
        var ids = new SnowflakeIds(1, () => clock);
        var previous = 0L;
        for (var i = 0; i < 10_000; i++)
        {
            if (i == 5000)
                clock -= 500; // a wall-clock step backwards
            var id = ids.Next();
            Assert.True(id > previous);
            previous = id;
        }
    }

    [Fact]
    public void Two_nodes_never_collide()
    {
        var now = SnowflakeIds.EpochMs + 42;
        var a = new SnowflakeIds(1, () => now);
        var b = new SnowflakeIds(2, () => now);
        var seen = new HashSet<long>();
        for (var i = 0; i < 5000; i++)
        {
            Assert.True(seen.Add(a.Next()));
            Assert.True(seen.Add(b.Next()));
        }
    }

    [Fact]
    public void Node_ids_outside_ten_bits_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SnowflakeIds(1024));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SnowflakeIds(-1));
    }
}
