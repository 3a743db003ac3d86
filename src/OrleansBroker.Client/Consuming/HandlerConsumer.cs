using Microsoft.Extensions.Logging;
using OrleansBroker.Delivery;
using OrleansBroker.Errors;

namespace OrleansBroker.Client.Consuming;

/// <summary>Runs a handler over a <see cref="QueueConsumer"/> with a fixed number of workers; acks on return, requeues on throw.</summary>
internal sealed partial class HandlerConsumer : IBrokerConsumer
{
    private readonly QueueConsumer _consumer;
    private readonly Func<Delivery.Delivery, CancellationToken, Task> _handler;
    private readonly IBrokerClient _client;
    private readonly ILogger _logger;
    private readonly Task[] _workers;

    public HandlerConsumer(QueueConsumer consumer, Func<Delivery.Delivery, CancellationToken, Task> handler, int concurrency, IBrokerClient client, ILogger logger)
    {
        _consumer = consumer;
        _handler = handler;
        _client = client;
        _logger = logger;
        _workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
        Completion = Task.WhenAll(_workers).ContinueWith(_ => consumer.Completion, TaskScheduler.Default).Unwrap();
    }

    public string Queue => _consumer.Queue;

    public string ConsumerId => _consumer.ConsumerId;

    public Task Completion { get; }

    private async Task WorkAsync()
    {
        var stopping = _consumer.Stopping;
        try
        {
            await foreach (var delivery in _consumer.Deliveries.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                await HandleAsync(delivery, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (BrokerException)
        {
            // The queue was deleted: Completion carries the error.
        }
    }

    private async Task HandleAsync(Delivery.Delivery delivery, CancellationToken stopping)
    {
        SettleKind outcome;
        try
        {
            await _handler(delivery, stopping).ConfigureAwait(false);
            outcome = SettleKind.Ack;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return; // Stopping: the queue requeues what was not settled.
        }
        catch (Exception exception)
        {
            LogHandlerFailed(exception, Queue, delivery.MessageId, delivery.Attempt);
            outcome = SettleKind.Requeue;
        }

        try
        {
            await _client.SettleAsync(delivery, outcome, null, null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
        {
            // Settled by the handler itself, or the lease ran out: the queue has already decided.
            LogLeaseLost(Queue, delivery.MessageId);
        }
        catch (Exception exception)
        {
            // Unsettled: the lease expires and the message comes back.
            LogSettleFailed(exception, Queue, delivery.MessageId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Stop first and let running handlers settle; only then unsubscribe, which requeues what is still unsettled.
        await _consumer.StopReceivingAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers).ConfigureAwait(false);
        await _consumer.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handler for {Queue} failed on message {MessageId} (attempt {Attempt}); requeued")]
    private partial void LogHandlerFailed(Exception exception, string queue, string messageId, int attempt);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Queue}: message {MessageId} was settled already or its lease ended")]
    private partial void LogLeaseLost(string queue, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Queue}: settling message {MessageId} failed; it will be delivered again when its lease ends")]
    private partial void LogSettleFailed(Exception exception, string queue, string messageId);
}
