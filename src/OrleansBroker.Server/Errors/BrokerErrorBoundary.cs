using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Errors;

/// <summary>
/// The last stop of every call into a broker grain: an error that would not be readable by every client (see
/// <see cref="ClientSafeErrors.IsReadableByEveryClient"/>) is logged here under a correlation id and replaced by a
/// <see cref="BrokerException"/> carrying that id: a storage failure as <see cref="BrokerErrorCode.StorageUnavailable"/>
/// or <see cref="BrokerErrorCode.StorageFull"/>, anything else as <see cref="BrokerErrorCode.Internal"/>. Errors every
/// client can read (broker errors without a cause, Orleans' own, timeouts) pass unchanged.
/// </summary>
internal sealed partial class BrokerErrorBoundary(ILogger<BrokerErrorBoundary> logger) : IIncomingGrainCallFilter
{
    private static readonly System.Reflection.Assembly Server = typeof(BrokerErrorBoundary).Assembly;

    public Task Invoke(IIncomingGrainCallContext context)
    {
        var call = context.Invoke();
        return call.IsCompletedSuccessfully || context.Grain?.GetType().Assembly != Server ? call : GuardAsync(call, context);
    }

    private async Task GuardAsync(Task call, IIncomingGrainCallContext context)
    {
        try
        {
            await call;
        }
        catch (Exception exception) when (!ClientSafeErrors.IsReadableByEveryClient(exception))
        {
            throw Replace(exception, context);
        }
    }

    private BrokerException Replace(Exception exception, IIncomingGrainCallContext context)
    {
        if (exception is BrokerException broker)
        {
            // Raised with a cause for the silo's sake: the message and code go on, the cause stays here.
            var id = broker.CorrelationId ?? ClientSafeErrors.NewCorrelationId();
            if (broker.CorrelationId is null)
            {
                LogCauseKept(broker.InnerException!, context.TargetId, context.MethodName, id);
            }

            return new BrokerException(broker.Code, broker.Message.Contains(id, StringComparison.Ordinal) ? broker.Message : $"{broker.Message} (silo log: {id})", id);
        }

        var correlationId = ClientSafeErrors.NewCorrelationId();
        LogFailed(exception, context.TargetId, context.MethodName, correlationId);
        var doing = $"complete {context.MethodName} on {context.TargetId}";
        return ClientSafeErrors.IsStorageFailure(exception)
            ? ClientSafeErrors.FromStorage(exception, doing, correlationId)
            : new BrokerException(BrokerErrorCode.Internal,
                $"The broker failed to {doing}: {exception.GetType().Name}: {exception.Message} (silo log: {correlationId}).", correlationId);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Grain}.{Method} failed [correlation id {CorrelationId}]; the caller gets a broker error with this id")]
    private partial void LogFailed(Exception exception, GrainId grain, string method, string correlationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Grain}.{Method}: the cause of a broker error stays on the silo [correlation id {CorrelationId}]")]
    private partial void LogCauseKept(Exception cause, GrainId grain, string method, string correlationId);
}
