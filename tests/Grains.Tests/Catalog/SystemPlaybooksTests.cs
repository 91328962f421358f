using System.Text.Json.Nodes;
using NoEtl.Grains.Catalog;

namespace NoEtl.Grains.Tests.Catalog;

public sealed class SystemPlaybooksTests
{
    [Theory]
    [InlineData("system/projector", true)]
    [InlineData("/system/projector", true)]
    [InlineData("System/projector", true)]
    [InlineData(" ./system/x", true)]
    [InlineData("systems/x", false)]
    [InlineData("tests/system/x", false)]
    [InlineData("system", false)]
    public void Look_alike_paths_count_as_system_paths(string path, bool system)
    {
        Assert.Equal(system, SystemPlaybooks.IsSystemPath(path));
        Assert.Equal(system ? "system" : "shared", SystemPlaybooks.PoolOf(path));
    }

    [Fact]
    public void Only_the_server_registers_and_user_pools_never_execute()
    {
        var shared = new Caller("shared-pool", Caller.WorkerRole, "shared", null);
        var systemPool = new Caller("system-pool", Caller.WorkerRole, "system", null);
        var operatorCaller = new Caller("operator", Caller.OperatorRole, null, null);
        Assert.True(SystemPlaybooks.MayRegister(Caller.System));
        Assert.False(SystemPlaybooks.MayRegister(operatorCaller));
        Assert.False(SystemPlaybooks.MayRegister(systemPool));
        Assert.False(SystemPlaybooks.MayExecute(shared));
        Assert.True(SystemPlaybooks.MayExecute(systemPool));
        Assert.True(SystemPlaybooks.MayExecute(operatorCaller));
        Assert.True(SystemPlaybooks.MayExecute(Caller.System));
    }

    [Fact]
    public void Server_url_is_always_fixed_and_a_playbook_may_fix_more()
    {
        var document = JsonNode.Parse("""{"metadata": {"fixed_workload": ["retention", 5, "server_url"]}}""")!.AsObject();
        Assert.Equal(["server_url", "retention"], SystemPlaybooks.FixedKeys(document));
        Assert.Equal(["server_url"], SystemPlaybooks.FixedKeys(new JsonObject { ["metadata"] = new JsonObject() }));
    }
}
