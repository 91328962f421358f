using System.Text.Json.Nodes;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Credentials;

public static class CredentialReplies
{
    /// <summary>
    /// A stored secret that cannot be decrypted is a state problem, not a bad request and not a crash: 409 with
    /// <c>detail.code = credential_undecryptable</c>. The reason names the failure, never the data.
    /// </summary>
    public static Reply Undecryptable(string kind, string name, string reason) => new(ReplyStatus.Conflict, JsonReplies.Detail(
        "credential_undecryptable",
        $"The stored {kind} cannot be decrypted: {reason}. Re-create it, or restore the key it was written with.",
        new JsonObject { ["name"] = name }));
}
