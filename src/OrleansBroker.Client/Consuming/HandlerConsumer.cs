using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;

namespace OrleansBroker.Client.Consuming;

/// <summary>How a handler's lease is kept alive: extended by <paramref name="Lease"/> every half lease, for at most <paramref name="Max"/>.</summary>
internal sealed record LeaseRenewal(TimeSpan Lease, TimeSpan Max);

/// <summary>
/// Runs a handler over a <see cref="QueueConsumer"/> with a fixed number of workers; completes on return, abandons on throw.
/// Keeps a running handler's lease alive (<see cref="LeaseRenewal"/>) and cancels that handler's token when the lease is lost.
/// Each failure is logged and, when there is an error handler, reported to it.
/// </summary>
internal sealed partial class HandlerConsumer : IBrokerConsumer
{
    private readonly QueueConsumer _consumer;
    private readonly Func<Delivery, CancellationToken, Task> _handler;
    private readonly Func<ConsumerError, Task>? _errorHandler;
    private readonly IBrokerClient _client;
    private readonly ILogger _logger;
    private readonly LeaseRenewal? _renewal;
    private readonly Task[] _workers;

    /// <summary>Settles sent and not yet answered.</summary>
    private readonly ConcurrentDictionary<Task, byte> _settling = new();

    public HandlerConsumer(QueueConsumer consumer, Func<Delivery, CancellationToken, Task> handler, Func<ConsumerError, Task>? errorHandler,
        int concurrency, bool startInOrder, LeaseRenewal? renewal, IBrokerClient client, ILogger logger)
    {
        _consumer = consumer;
        _handler = handler;
        _errorHandler = errorHandler;
        _renewal = renewal;
        _client = client;
        _logger = logger;
        _workers = startInOrder
            ? [Task.Run(() => StartInOrderAsync(concurrency))]
            : Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
        Completion = Task.WhenAll(_workers).ContinueWith(_ => consumer.Completion, TaskScheduler.Default).Unwrap();
        _ = consumer.Completion.ContinueWith(stopped => ReportAsync(ConsumerErrorSource.Consumer, stopped.Exception!.GetBaseException(), null),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default).Unwrap();
    }

    public string Queue => _consumer.Queue;

    /// <summary>Failures the error handler hears of are the application's to log; without one, the consumer warns of them itself.</summary>
    private LogLevel OwnLogLevel => _errorHandler is null ? LogLevel.Warning : LogLevel.Debug;

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

    /// <summary>
    /// One loop starts every handler, in delivery order, up to <paramref name="concurrency"/> running at once: a handler is
    /// called here and runs on by itself from its first await, so the next one starts after it has begun.
    /// </summary>
    private async Task StartInOrderAsync(int concurrency)
    {
        var stopping = _consumer.Stopping;
        using var slots = new SemaphoreSlim(concurrency);
        try
        {
            await foreach (var delivery in _consumer.Deliveries.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                await slots.WaitAsync(stopping).ConfigureAwait(false);
                _ = RunAsync(delivery);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (BrokerException)
        {
            // The queue was deleted: Completion carries the error.
        }

        // Every slot back: every handler started here has finished.
        for (var i = 0; i < concurrency; i++)
        {
            await slots.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        async Task RunAsync(Delivery delivery)
        {
            try
            {
                await HandleAsync(delivery, stopping).ConfigureAwait(false);
            }
            finally
            {
                slots.Release();
            }
        }
    }

    private async Task HandleAsync(Delivery delivery, CancellationToken stopping)
    {
        bool completed;
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var handled = new CancellationTokenSource();
        Task renewing;
        if (_renewal is { } renewal)
        {
            renewing = RenewAsync(delivery, renewal, leaseLost, handled.Token);
        }
        else
        {
            // Not renewed: the handler is told when the lease ends (the expiry is on the silo's clock; a client clock
            // that is behind tells it late, and the broker then refuses the ack as LeaseLost).
            var left = delivery.LeaseExpiresAt - DateTimeOffset.UtcNow;
            leaseLost.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            renewing = Task.CompletedTask;
        }

        var activity = ClientTelemetry.StartProcess(delivery);
        var started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        completed = false;
        try
        {
            await _handler(delivery, leaseLost.Token).ConfigureAwait(false);
            if (leaseLost.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                // It caught the cancellation and returned: that is no success, and the message comes again anyway.
                LogReturnedAfterLeaseLost(Queue, delivery.MessageId);
                return;
            }

            completed = true;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return; // Stopping: the queue requeues what was not settled.
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested)
        {
            return; // The lease is gone: the message comes back to this or another consumer; nothing to settle.
        }
        catch (Exception exception)
        {
            LogHandlerFailed(OwnLogLevel, exception, Queue, delivery.MessageId, delivery.Attempt);
            failure = exception;
            await ReportAsync(ConsumerErrorSource.Handler, exception, delivery).ConfigureAwait(false);
            completed = false;
        }
        finally
        {
            ClientTelemetry.EndProcess(activity, delivery, started, completed, failure);
            await handled.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
        }

        // Sent without waiting for the answer: the worker takes its next delivery while the settle is on its way
        // (batched with the others), so one worker is not held to a broker round trip and a commit per message.
        // Dispose waits for every settle still out.
        var settle = SettleAsync(delivery, completed);
        _settling.TryAdd(settle, 0);
        _ = settle.ContinueWith(done => _settling.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task SettleAsync(Delivery delivery, bool completed)
    {
        try
        {
            await (completed ? _client.CompleteAsync(delivery, CancellationToken.None) : _client.AbandonAsync(delivery, null, CancellationToken.None)).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
        {
            // Settled by the handler itself, or the lease ran out: the queue has already decided.
            LogLeaseLost(Queue, delivery.MessageId);
        }
        catch (Exception exception)
        {
            // Unsettled: the lease expires and the message comes back.
            LogSettleFailed(OwnLogLevel, exception, Queue, delivery.MessageId);
            await ReportAsync(ConsumerErrorSource.Settle, exception, delivery).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Extends the lease every half lease while the handler runs, up to the renewal limit; cancels
    /// <paramref name="leaseLost"/> when the broker says the lease is gone, or when it runs out after the limit.
    /// </summary>
    private async Task RenewAsync(Delivery delivery, LeaseRenewal renewal, CancellationTokenSource leaseLost, CancellationToken handled)
    {
        var started = Stopwatch.GetTimestamp();
        var lastExtended = started;
        var every = TimeSpan.FromTicks(Math.Max(renewal.Lease.Ticks / 2, TimeSpan.FromMilliseconds(250).Ticks));
        try
        {
            while (true)
            {
                await Task.Delay(every, handled).ConfigureAwait(false);
                if (Stopwatch.GetElapsedTime(started) + renewal.Lease > renewal.Max)
                {
                    // Renewed for as long as allowed: the handler is told when the lease it holds runs out.
                    var left = renewal.Lease - Stopwatch.GetElapsedTime(lastExtended);
                    if (left > TimeSpan.Zero)
                    {
                        await Task.Delay(left, handled).ConfigureAwait(false);
                    }

                    LogRenewalLimit(Queue, delivery.MessageId, renewal.Max);
                    await leaseLost.CancelAsync().ConfigureAwait(false);
                    await ReportAsync(ConsumerErrorSource.LeaseLost, new BrokerException(BrokerErrorCode.LeaseLost,
                        $"Message '{delivery.MessageId}' of queue '{Queue}' was renewed for MaxLeaseRenewal ({renewal.Max}); its lease ended while the handler ran."), delivery).ConfigureAwait(false);
                    return;
                }

                try
                {
                    await _client.RenewLeaseAsync(delivery, renewal.Lease, handled).ConfigureAwait(false);
                    lastExtended = Stopwatch.GetTimestamp();
                }
                catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
                {
                    LogLeaseLostWhileHandling(Queue, delivery.MessageId);
                    await leaseLost.CancelAsync().ConfigureAwait(false);
                    await ReportAsync(ConsumerErrorSource.LeaseLost, exception, delivery).ConfigureAwait(false);
                    return;
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    // A passing failure: tried again in half a lease, while the lease still runs.
                    LogRenewFailed(OwnLogLevel, exception, Queue, delivery.MessageId);
                    await ReportAsync(ConsumerErrorSource.RenewLease, exception, delivery).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (handled.IsCancellationRequested)
        {
            // The handler is done.
        }
    }

    /// <summary>Tells the error handler, if there is one; an error handler that throws is logged, and the consumer goes on.</summary>
    private async Task ReportAsync(ConsumerErrorSource source, Exception exception, Delivery? delivery)
    {
        if (_errorHandler is null)
        {
            return;
        }

        try
        {
            await _errorHandler(new ConsumerError(Queue, source, exception, delivery)).ConfigureAwait(false);
        }
        catch (Exception failure)
        {
            LogErrorHandlerFailed(failure, Queue, source);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Stop first and let running handlers settle; only then unsubscribe, which requeues what is still unsettled.
        await _consumer.StopReceivingAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers).ConfigureAwait(false);
        await Task.WhenAll(_settling.Keys).ConfigureAwait(false);
        await _consumer.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Queue}: the handler of message {MessageId} returned after its lease was lost; not acked, the message will be delivered again")]
    private partial void LogReturnedAfterLeaseLost(string queue, string messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Queue}: the consumer's error handler threw on a {Source} error; the consumer goes on")]
    private partial void LogErrorHandlerFailed(Exception exception, string queue, ConsumerErrorSource source);

    [LoggerMessage(Message = "Handler for {Queue} failed on message {MessageId} (attempt {Attempt}); abandoned, it will be delivered again or dead-lettered")]
    private partial void LogHandlerFailed(LogLevel level, Exception exception, string queue, string messageId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Queue}: message {MessageId} lost its lease while its handler ran; the handler's token is cancelled and the message will be delivered again")]
    private partial void LogLeaseLostWhileHandling(string queue, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Queue}: message {MessageId} has been renewed for MaxLeaseRenewal ({Max}); its lease ended, the handler's token is cancelled and the message will be delivered again")]
    private partial void LogRenewalLimit(string queue, string messageId, TimeSpan max);

    [LoggerMessage(Message = "{Queue}: renewing the lease of message {MessageId} failed; trying again")]
    private partial void LogRenewFailed(LogLevel level, Exception exception, string queue, string messageId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Queue}: message {MessageId} was settled already or its lease ended")]
    private partial void LogLeaseLost(string queue, string messageId);

    [LoggerMessage(Message = "{Queue}: settling message {MessageId} failed; it will be delivered again when its lease ends")]
    private partial void LogSettleFailed(LogLevel level, Exception exception, string queue, string messageId);
}
