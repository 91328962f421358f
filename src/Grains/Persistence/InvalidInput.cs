using Npgsql;

namespace NoEtl.Grains.Persistence;

/// <summary>
/// Classifies PostgreSQL data errors that only client input can cause (the server writes nothing of its own that
/// could trip them), so they are answered 422 instead of 500.
/// </summary>
public static class InvalidInput
{
    private static readonly Dictionary<string, string> Meanings = new()
    {
        ["22021"] = "a value contains a NUL character or an invalid byte sequence",
        ["22P05"] = "a value contains a character that cannot be stored (such as \\u0000 in JSON text)",
        ["54000"] = "a value is too large to be stored or indexed",
        ["22001"] = "a value is too long",
        ["22003"] = "a number is out of range",
        ["22008"] = "a date or time is out of range",
        ["22P02"] = "a value has an invalid text representation",
    };

    /// <summary>The exception to send to the caller, or null when <paramref name="exception"/> is not such an error.</summary>
    public static InvalidInputException? Of(Exception exception)
    {
        // Writers may wrap the driver's exception (a group commit reports it through its own failure).
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: var state } && Meanings.TryGetValue(state, out var meaning))
                return new InvalidInputException(state, $"Invalid input: {meaning} (SQLSTATE {state})");
        }
        return null;
    }
}
