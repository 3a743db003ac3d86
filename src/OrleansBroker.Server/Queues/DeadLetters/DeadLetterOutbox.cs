using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues.DeadLetters;

/// <summary>
/// Messages on their way to the dead-letter queue: marked leaving (never dispatched again), moved in batches, stored in the
/// dead-letter queue first and settled here after, so a crash in between can only duplicate a dead letter, never lose
/// it. A failed move is retried from the queue's tick (<see cref="EnsureMoving"/>).
/// </summary>
/// <remarks>
/// <c>store</c>: stores dead letters in the named dead-letter queue.
/// </remarks>
internal sealed partial class DeadLetterOutbox(QueueState queue, Func<string, IReadOnlyList<BrokerMessage>, Task> store, ILogger logger)
{
    /// <summary>Dead letters moved per call to the dead-letter queue.</summary>
    public const int Batch = 100;

    private readonly List<(LogEntry Entry, string Reason, DeadLetterCause Cause)> _outbox = [];
    private Task _move = Task.CompletedTask;

    public int Count => _outbox.Count;

    /// <summary>The move running now, or the last one (completed).</summary>
    public Task Move => _move;

    /// <summary>
    /// Sends the message to the dead-letter queue with <paramref name="reason"/>. A queue without one (only an explicit
    /// dead-letter settle gets here: such a queue has unlimited attempts) drops it, as the consumer asked. The silo's meter
    /// counts it by <paramref name="cause"/> once it is in the dead-letter queue.
    /// </summary>
    public void Add(LogEntry entry, string reason, DeadLetterCause cause)
    {
        if (queue.Options.ResolveDeadLetterQueue(queue.Queue) is null)
        {
            LogDroppedWithoutDeadLetterQueue(logger, queue.Name, entry.Sequence, reason);
            queue.Remove(entry);
            return;
        }

        if (queue.Leaving.Add(entry.Sequence))
        {
            // Gone for this queue: the next message of its group may go.
            queue.Ready.Finish(entry);
            _outbox.Add((entry, reason, cause));
            EnsureMoving();
        }
    }

    /// <summary>Starts moving the outbox unless a move is running.</summary>
    public void EnsureMoving()
    {
        if (_outbox.Count > 0 && _move.IsCompleted)
        {
            _move = MoveAsync();
        }
    }

    /// <summary>
    /// On deactivation: lets a running move finish settling here and tries once more for what is left, so a graceful
    /// restart does not store a dead letter a second time (a move cut off between the two steps repeats on the next activation).
    /// </summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _move.WaitAsync(cancellationToken);
            EnsureMoving();
            await _move.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Out of time to deactivate: what is still in the outbox is moved by the next activation.
        }
    }

    public void Clear() => _outbox.Clear();

    private async Task MoveAsync()
    {
        var to = queue.Options.ResolveDeadLetterQueue(queue.Queue)!;
        while (_outbox.Count > 0)
        {
            var batch = _outbox.Take(Batch).ToList();
            try
            {
                var letters = new List<BrokerMessage>(batch.Count);
                foreach (var (entry, reason, _) in batch)
                {
                    letters.Add(ToDeadLetter(entry, await queue.Log.ReadMessageAsync(entry), reason));
                }

                await store(to, letters);
            }
            catch (Exception exception)
            {
                LogMoveFailed(logger, exception, queue.Name, batch.Count);
                return;
            }

            _outbox.RemoveRange(0, batch.Count);
            foreach (var (entry, _, _) in batch)
            {
                queue.Leaving.Remove(entry.Sequence);
                queue.Log.Settle(entry);
            }

            queue.Count(c => c with { DeadLettered = c.DeadLettered + batch.Count });
            foreach (var cause in batch.GroupBy(b => b.Cause))
            {
                queue.Metrics.DeadLettered(cause.Key, cause.Count());
            }

            try
            {
                await queue.Log.CommitAsync();
            }
            catch (BrokerException exception)
            {
                // Stored in the dead-letter queue but not yet settled here: the settle is committed with the next write.
                LogMoveFailed(logger, exception, queue.Name, batch.Count);
                return;
            }
        }
    }

    private BrokerMessage ToDeadLetter(LogEntry entry, StoredMessage message, string reason) =>
        new(message.MessageId, message.Body, message.ContentType, DeadLetterHeaders.With(message.Headers, reason, queue.Queue, entry.Attempts, message.EnqueuedAt),
            message.RoutingKey, Priority: message.Priority, OrderingKey: message.OrderingKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: moving {Count} messages to the dead-letter queue failed; retrying")]
    private static partial void LogMoveFailed(ILogger logger, Exception exception, string queue, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: message {Sequence} dropped on a dead-letter nack, the queue has no dead-letter queue ({Reason})")]
    private static partial void LogDroppedWithoutDeadLetterQueue(ILogger logger, string queue, long sequence, string reason);
}
