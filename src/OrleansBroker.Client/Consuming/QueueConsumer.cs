using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Client.Consuming;

/// <summary>
/// A push registration with one queue: with every partition of it (see <see cref="QueuePartitions"/>), all feeding one
/// channel the application reads. The queue calls <see cref="IConsumerObserver.Deliver"/> with batches. The registrations
/// are renewed on the interval the queue asks for, and retried every second while the queue is unreachable, so a consumer
/// resumes by itself after a silo restart; a renewal also picks up partitions added since.
/// </summary>
internal sealed partial class QueueConsumer : IConsumerObserver, IAsyncDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private readonly IClusterClient _cluster;
    private readonly IQueueGrain _queue;
    private readonly int _prefetch;
    private readonly bool _onePartition;
    private readonly ILogger _logger;
    private readonly Channel<Delivery> _deliveries = Channel.CreateUnbounded<Delivery>(new() { SingleWriter = false });
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Released when a queue says it is moving: the renew loop registers again at once.</summary>
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IConsumerObserver? _reference;
    private int _partitions = 1;
    private Task _renewLoop = Task.CompletedTask;
    private int _disposed;

    public QueueConsumer(IClusterClient cluster, string queue, ConsumerOptions options, ILogger logger)
    {
        _cluster = cluster;
        Queue = queue;
        _queue = cluster.GetGrain<IQueueGrain>(queue);
        _prefetch = options.Prefetch;

        // Consuming one partition by its own name ("orders~2") registers with that partition only.
        _onePartition = QueuePartitions.Parse(queue).Index > 0;
        ConsumerId = options.ConsumerId ?? Guid.NewGuid().ToString("N");
        _logger = logger;
    }

    public string Queue { get; }

    public string ConsumerId { get; }

    public ChannelReader<Delivery> Deliveries => _deliveries.Reader;

    public Task Completion => _completion.Task;

    public CancellationToken Stopping => _stop.Token;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _reference = _cluster.CreateObjectReference<IConsumerObserver>(this);
        var registration = await RegisterAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        _renewLoop = Task.Run(() => RenewLoopAsync(registration.RenewEvery), CancellationToken.None);
    }

    /// <summary>
    /// Registers with partition 0 (the queue's own grain), which says how many partitions there are, then with the others.
    /// The prefetch is shared out: each partition gets ceil(prefetch / partitions), so a consumer holds about its prefetch in all.
    /// </summary>
    private async Task<ConsumerRegistration> RegisterAsync()
    {
        var registration = await _queue.Subscribe(ConsumerId, PerPartition(), _reference!).ConfigureAwait(false);
        var partitions = _onePartition ? 1 : registration.Partitions;
        if (partitions != _partitions)
        {
            // The count changed (first registration, or the queue grew): partition 0 gets its new share too.
            _partitions = partitions;
            registration = await _queue.Subscribe(ConsumerId, PerPartition(), _reference!).ConfigureAwait(false);
        }

        await Task.WhenAll(Partitions().Select(p => p.Subscribe(ConsumerId, PerPartition(), _reference!))).ConfigureAwait(false);
        return registration;
    }

    /// <summary>Each partition's share of the prefetch: ceil(prefetch / partitions), at least 1.</summary>
    private int PerPartition() => Math.Max(1, (_prefetch + _partitions - 1) / _partitions);

    /// <summary>
    /// Renews every partition's registration at once, each call on its own: a partition whose silo just died (its call
    /// hangs until the silo is declared dead) holds up no other, so the registrations on the living partitions do not
    /// lapse while it moves. A partition count that changed registers again with the new share.
    /// </summary>
    private async Task<ConsumerRegistration> RenewAsync()
    {
        if (_partitions == 1)
        {
            return await RegisterAsync().ConfigureAwait(false);
        }

        var share = PerPartition();
        var first = _queue.Subscribe(ConsumerId, share, _reference!);
        var all = Task.WhenAll(Partitions().Select(p => p.Subscribe(ConsumerId, share, _reference!)).Prepend(first));
        try
        {
            await all.ConfigureAwait(false);
        }
        catch when (first.IsFaulted)
        {
            // Partition 0's answer decides (the queue was deleted, say); the others' failures are observed with it.
            await first.ConfigureAwait(false);
        }

        var registration = await first.ConfigureAwait(false);
        return registration.Partitions == _partitions ? registration : await RegisterAsync().ConfigureAwait(false);
    }

    /// <summary>The partitions other than the queue's own grain.</summary>
    private IEnumerable<IQueueGrain> Partitions() =>
        Enumerable.Range(1, _partitions - 1).Select(i => _cluster.GetGrain<IQueueGrain>(QueuePartitions.NameOf(Queue, i)));

    Task IConsumerObserver.Moving()
    {
        // Wakes the renew loop: the next registration reaches the queue's next activation.
        lock (_wake)
        {
            if (Volatile.Read(ref _disposed) == 0 && _wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }

        return Task.CompletedTask;
    }

    Task IConsumerObserver.Deliver(IReadOnlyList<Delivery> deliveries)
    {
        foreach (var delivery in deliveries)
        {
            _deliveries.Writer.TryWrite(delivery);
        }

        return Task.CompletedTask;
    }

    private async Task RenewLoopAsync(TimeSpan interval)
    {
        var wait = interval;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(wait, _stop.Token).ConfigureAwait(false);

                // A round waits at most one interval: the next goes out on time even while a partition cannot be
                // reached, so the partitions that can keep the registration (the one left behind ends by itself).
                var renewal = RenewAsync();
                if (await Task.WhenAny(renewal, Task.Delay(interval, _stop.Token)).ConfigureAwait(false) != renewal)
                {
                    _ = renewal.ContinueWith(t => LogRenewFailed(t.Exception!, Queue, ConsumerId), CancellationToken.None,
                        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    _stop.Token.ThrowIfCancellationRequested();
                    wait = TimeSpan.Zero;
                    continue;
                }

                var registration = await renewal.ConfigureAwait(false);
                interval = wait = registration.RenewEvery;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueNotFound)
            {
                LogQueueGone(Queue, ConsumerId);
                _deliveries.Writer.TryComplete(exception);
                _completion.TrySetException(exception);
                return;
            }
            catch (Exception exception)
            {
                LogRenewFailed(exception, Queue, ConsumerId);
                wait = RetryInterval;
            }
        }
    }

    /// <summary>Stops taking deliveries and renewing; the registration stays until dispose, so settles still in flight land first.</summary>
    public async Task StopReceivingAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _renewLoop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopReceivingAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(Partitions().Prepend(_queue).Select(p => p.Unsubscribe(ConsumerId))).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // The queue drops a silent consumer by itself and requeues its deliveries; nothing is lost.
            LogUnsubscribeFailed(exception, Queue, ConsumerId);
        }

        if (_reference is not null)
        {
            _cluster.DeleteObjectReference<IConsumerObserver>(_reference);
        }

        _deliveries.Writer.TryComplete();
        _completion.TrySetResult();
        _stop.Dispose();
        lock (_wake)
        {
            _wake.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer} of {Queue}: renewing the registration failed; retrying every second")]
    private partial void LogRenewFailed(Exception exception, string queue, string consumer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer} of {Queue}: the queue no longer exists; consumer stopped")]
    private partial void LogQueueGone(string queue, string consumer);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Consumer {Consumer} of {Queue}: unsubscribe failed; the queue drops it when its registration expires")]
    private partial void LogUnsubscribeFailed(Exception exception, string queue, string consumer);
}
