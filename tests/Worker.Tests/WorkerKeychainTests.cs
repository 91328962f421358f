using System.Text.Json.Nodes;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tests;

public sealed class WorkerKeychainTests
{
    private static readonly WorkerKeychain Keychain = new(new Dictionary<string, string> { ["NOETL_INTERNAL_API_TOKEN"] = "internal-token-value" });

    [Fact]
    public void Scrubs_results_with_arrays_of_objects_as_error_bodies_have_them()
    {
        // A FastAPI 422 body: {"detail": [{"loc": [...], "msg": ...}]} — scrubbing it once threw "node already has a parent".
        var result = JsonNode.Parse("""
            {"status": 422, "data": {"detail": [{"type": "value_error", "loc": ["body", "events", 0], "msg": "echo internal-token-value"}]}}
            """)!;
        var scrubbed = Keychain.Scrub(result)!;
        Assert.Equal("echo [REDACTED]", scrubbed["data"]!["detail"]![0]!["msg"]!.GetValue<string>());
        Assert.Equal("events", scrubbed["data"]!["detail"]![0]!["loc"]![1]!.GetValue<string>());
    }
}
