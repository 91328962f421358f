using Microsoft.Extensions.Logging;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Hosting;

/// <summary>
/// Keeps driver exceptions on the silo: they are not serializable, and their text is not for clients.
/// Database outages become <see cref="DatabaseUnavailableException"/>, data errors caused by client input
/// <see cref="InvalidInputException"/>; anything else is logged here in full and crosses as a <see cref="GrainFailedException"/>.
/// Orleans' own failures of a call this grain made to another silo (gone, unreachable, no answer in time) cross as they
/// are: the caller answers them 503/504 and may send the call again, where a <see cref="GrainFailedException"/> is a 500.
/// </summary>
public sealed partial class GrainExceptionFilter(ILogger<GrainExceptionFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (e is not (DatabaseUnavailableException or GrainFailedException or InvalidInputException
                                            or SiloUnavailableException or OrleansMessageRejectionException or TimeoutException)
                                  && IsOurs(context))
        {
            if (DatabaseUnavailable.CodeOf(e) is { } code)
            {
                LogUnavailable(e, context.InterfaceName, context.MethodName);
                throw new DatabaseUnavailableException(code, DatabaseUnavailable.Message(code));
            }
            if (InvalidInput.Of(e) is { } invalid)
            {
                LogInvalidInput(invalid.SqlState, context.InterfaceName, context.MethodName);
                throw invalid;
            }
            LogFailed(e, context.InterfaceName, context.MethodName);
            throw new GrainFailedException($"{context.InterfaceName}.{context.MethodName} failed; see the silo log");
        }
    }

    private static bool IsOurs(IIncomingGrainCallContext context) =>
        context.InterfaceName.StartsWith("noetl.", StringComparison.Ordinal) || context.InterfaceName.StartsWith("NoEtl.", StringComparison.Ordinal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Interface}.{Method}: database unavailable")]
    private partial void LogUnavailable(Exception exception, string @interface, string method);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Interface}.{Method}: PostgreSQL refused the client's input (SQLSTATE {SqlState})")]
    private partial void LogInvalidInput(string sqlState, string @interface, string method);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Interface}.{Method} failed")]
    private partial void LogFailed(Exception exception, string @interface, string method);
}
