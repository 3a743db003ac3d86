using System.Globalization;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

internal sealed partial class QueueGrain
{
    public async Task<PublishReceipt> Publish(BrokerMessage message)
    {
        EnsureCreated();
        MessageValidator.Validate(message, _options.MaxMessageBytes);
        return (await AppendAsync([message]))[0];
    }

    public async Task<IReadOnlyList<PublishReceipt>> PublishBatch(IReadOnlyList<BrokerMessage> messages)
    {
        EnsureCreated();
        ValidateBatch(messages);
        foreach (var message in messages)
        {
            MessageValidator.Validate(message, _options.MaxMessageBytes);
        }

        return await AppendAsync(messages);
    }

    public async Task AcceptDeadLetters(IReadOnlyList<BrokerMessage> messages)
    {
        if (!_log.Meta.Created)
        {
            await Create(QueueOptions.ForDeadLetterQueue());
        }

        ValidateBatch(messages);
        await AppendAsync(messages);
    }

    private async Task<IReadOnlyList<PublishReceipt>> AppendAsync(IReadOnlyList<BrokerMessage> messages)
    {
        var stored = new StoredMessage[messages.Count];
        var receipts = new PublishReceipt[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            stored[i] = Stamp(messages[i]);
            receipts[i] = new PublishReceipt(stored[i].MessageId, stored[i].Sequence);
        }

        await _log.AppendAsync(stored);
        return receipts;
    }

    private static void ValidateBatch(IReadOnlyList<BrokerMessage> messages)
    {
        if (messages is null || messages.Count == 0 || messages.Count > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidBatch,
                $"A publish batch holds 1 to {BrokerLimits.MaxBatchCount} messages; this one holds {messages?.Count ?? 0}.");
        }
    }

    private StoredMessage Stamp(BrokerMessage message) => new(
        _log.NextSequence(),
        message.Id ?? Guid.CreateVersion7().ToString("N", CultureInfo.InvariantCulture),
        message.Body,
        message.ContentType,
        message.Headers,
        message.RoutingKey,
        _time.GetUtcNow());

    /// <summary>Called by the log once a commit is durable: the new messages become deliverable, in sequence order.</summary>
    void IMessageLogListener.OnCommitted(IReadOnlyList<LogEntry> entries)
    {
        foreach (var entry in entries)
        {
            _ready.Enqueue(entry.Sequence, entry.Sequence);
        }

        Dispatch();
    }

    /// <summary>Older messages read back by recovery: ready again (their leases ended with the previous activation), or dead-lettered if out of attempts.</summary>
    public void OnRecovered(IReadOnlyList<LogEntry> entries)
    {
        foreach (var entry in entries)
        {
            ReturnToReady(entry);
        }

        Dispatch();
    }

    void IMessageLogListener.OnPagedIn() => Dispatch();
}
