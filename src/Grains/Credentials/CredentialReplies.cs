using NoEtl.Grains.Security;

namespace NoEtl.Grains.Credentials;

public static class CredentialReplies
{
    /// <summary>
    /// A stored secret that cannot be served is a state problem, not a bad request and not a crash: 409 with
    /// <c>detail.code</c> <c>credential_undecryptable</c> (or <c>credential_legacy_refused</c>). The reason names the
    /// failure and the remedy, never the data.
    /// </summary>
    public static Failure Undecryptable(string kind, string name, SecretUndecryptableException error) =>
        Failure.Conflict(error.Code, $"The stored {kind} cannot be decrypted: {error.Message}. {error.Remedy}", subject: name);
}
