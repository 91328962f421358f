using Microsoft.AspNetCore.Http.HttpResults;

namespace NoEtl.ApiGateway.Http;

/// <summary>Ids in query strings: absent or blank is none, anything else must be an integer.</summary>
public static class QueryIds
{
    public static bool TryRead(string? text, out long? id)
    {
        id = null;
        if (string.IsNullOrWhiteSpace(text))
            return true;
        if (!long.TryParse(text, out var parsed))
            return false;
        id = parsed;
        return true;
    }

    public static UnprocessableEntity<ValidationErrors> Problem(string field) =>
        ContractResults.FieldProblem("int_parsing", ["query", field], "Input should be a valid integer");
}
