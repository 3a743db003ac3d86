using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

/// <summary>Dead letters: the outbox of messages on their way to the dead-letter queue, moved in batches, stored there first.</summary>
internal sealed partial class QueueGrain
{
    private const int DeadLetterBatch = 100;
    private readonly List<(LogEntry Entry, string Reason)> _deadLetterOutbox = [];
    private Task _deadLetterMove = Task.CompletedTask;

    private void DeadLetter(LogEntry entry, string reason)
    {
        if (Options.ResolveDeadLetterQueue(_queue) is null)
        {
            // Only an explicit dead-letter nack gets here (a queue without a DLQ has unlimited attempts): the consumer asked to drop it.
            LogDroppedWithoutDeadLetterQueue(_name, entry.Sequence, reason);
            _log.Settle(entry);
            _ready.Finish(entry);
            return;
        }

        if (_leaving.Add(entry.Sequence))
        {
            // Gone for this queue: the next message of its group may go.
            _ready.Finish(entry);
            _deadLetterOutbox.Add((entry, reason));
            EnsureDeadLettering();
        }
    }

    /// <summary>Starts moving the dead-letter outbox unless a move is running; a failed move is retried from the tick.</summary>
    private void EnsureDeadLettering()
    {
        if (_deadLetterOutbox.Count > 0 && _deadLetterMove.IsCompleted)
        {
            _deadLetterMove = DeadLetterLoopAsync();
        }
    }

    /// <summary>
    /// On deactivation: lets a running move finish settling here and tries once more for what is left, so a graceful
    /// restart does not store a dead letter a second time (a move cut off between the two steps repeats on the next activation).
    /// </summary>
    private async Task FinishDeadLetteringAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _deadLetterMove.WaitAsync(cancellationToken);
            EnsureDeadLettering();
            await _deadLetterMove.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Out of time to deactivate: what is still in the outbox is moved by the next activation.
        }
    }

    /// <summary>
    /// Moves dead letters in batches: stored in the dead-letter queue first, then settled here, so
    /// a crash in between can only duplicate a dead letter, never lose it. Failures are retried on the next tick.
    /// </summary>
    private async Task DeadLetterLoopAsync()
    {
        var target = GrainFactory.GetGrain<IDeadLetterTarget>(Options.ResolveDeadLetterQueue(_queue)!);
        while (_deadLetterOutbox.Count > 0)
        {
            var batch = _deadLetterOutbox.Take(DeadLetterBatch).ToList();
            try
            {
                var letters = new List<BrokerMessage>(batch.Count);
                foreach (var (entry, reason) in batch)
                {
                    letters.Add(ToDeadLetter(entry, await _log.ReadMessageAsync(entry), reason));
                }

                await target.AcceptDeadLetters(letters);
            }
            catch (Exception exception)
            {
                LogDeadLetterFailed(exception, _name, batch.Count);
                return;
            }

            _deadLetterOutbox.RemoveRange(0, batch.Count);
            foreach (var (entry, _) in batch)
            {
                _leaving.Remove(entry.Sequence);
                _log.Settle(entry);
            }

            Count(c => c with { DeadLettered = c.DeadLettered + batch.Count });
            try
            {
                await _log.CommitAsync();
            }
            catch (BrokerException exception)
            {
                // Stored in the dead-letter queue but not yet settled here: the settle is committed with the next write.
                LogDeadLetterFailed(exception, _name, batch.Count);
                return;
            }
        }
    }

    private BrokerMessage ToDeadLetter(LogEntry entry, StoredMessage message, string reason) =>
        new(message.MessageId, message.Body, message.ContentType, DeadLetterHeaders.With(message.Headers, reason, _queue, entry.Attempts, message.EnqueuedAt),
            message.RoutingKey, Priority: message.Priority, OrderingKey: message.OrderingKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: moving {Count} messages to the dead-letter queue failed; retrying")]
    private partial void LogDeadLetterFailed(Exception exception, string queue, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: message {Sequence} dropped on a dead-letter nack, the queue has no dead-letter queue ({Reason})")]
    private partial void LogDroppedWithoutDeadLetterQueue(string queue, long sequence, string reason);
}
