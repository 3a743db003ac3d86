using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Queues.Scheduling;

/// <summary>
/// The queue's reminder: the durable wake-up that brings it back after a crash or an idle deactivation while deliveries are
/// out, dead letters wait to move, or messages wait for a time. It is dropped a reminder period after the queue has none, so a
/// busy queue does not write the reminder table on every lease. Updates run one after another, never interleaved.
/// </summary>
/// <remarks>
/// <c>busy</c>: Whether the queue has anything the reminder must come back for.<br/>
/// <c>register</c>: Registers (or updates) the reminder.<br/>
/// <c>unregister</c>: Removes the reminder if it is registered.
/// </remarks>
internal sealed partial class DurableWakeUp(string queue, TimeSpan period, Func<bool> busy, Func<Task> register, Func<Task> unregister, ILogger logger)
{
    private bool _on;
    private Task _update = Task.CompletedTask;
    private DateTimeOffset _idleSince;

    /// <summary>Whether the reminder is off and no update of it is under way.</summary>
    public bool Off => !_on && _update.IsCompleted;

    /// <summary>On activation: whether the reminder is registered now.</summary>
    public void Start(bool on, DateTimeOffset now)
    {
        _on = on;
        _idleSince = now;
    }

    /// <summary>Deliveries just went out: the reminder goes in now, not on the next tick.</summary>
    public void EnsureOn(DateTimeOffset now)
    {
        if (!_on && _update.IsCompleted)
        {
            _ = UpdateAsync(now);
        }
    }

    /// <summary>Brings the reminder in line with the queue's state.</summary>
    public Task UpdateAsync(DateTimeOffset now) => _update = UpdateAfterAsync(_update, now);

    /// <summary>The queue is deleted: the reminder goes with it.</summary>
    public async Task RemoveAsync()
    {
        await unregister();
        _on = false;
    }

    private async Task UpdateAfterAsync(Task previous, DateTimeOffset now)
    {
        try
        {
            await previous;
        }
        catch (OperationCanceledException)
        {
            // The previous update was cut short by deactivation; this one still runs.
        }

        var isBusy = busy();
        if (isBusy)
        {
            _idleSince = now;
        }

        try
        {
            if (isBusy && !_on)
            {
                _on = true;
                await register();
            }
            else if (!isBusy && _on && now - _idleSince > period)
            {
                _on = false;
                await unregister();
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _on = !_on;
            LogReminderFailed(logger, exception, queue);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: reminder update failed; retried on the next tick")]
    private static partial void LogReminderFailed(ILogger logger, Exception exception, string queue);
}
