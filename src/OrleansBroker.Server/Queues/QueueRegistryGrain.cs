using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Storage;
using OrleansBroker.Queues;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// The durable set of queue (or topic) names, spread by a hash of the name over <see cref="Buckets"/> records
/// (<c>names-0</c> to <c>names-63</c>), so that adding or removing a name rewrites one record of about a 64th of the names,
/// however many there are. Reentrant: adds and removes that arrive while a write is under way go into the next one, which
/// writes every bucket they changed side by side (group commit); each caller returns once its change is durable. A list
/// kept by an older version in one record (<c>queues</c>) is moved into the buckets when the grain activates.
/// </summary>
[Reentrant]
internal sealed partial class QueueRegistryGrain(IServiceProvider services, ILogger<QueueRegistryGrain> logger) : Grain, IQueueRegistryGrain
{
    /// <summary>Records the names are spread over.</summary>
    public const int Buckets = 64;

    /// <summary>The single record an older version kept every name in.</summary>
    public const string SingleRecordName = "queues";

    private readonly IGrainStorage _storage = services.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StateStorageProviderName);
    private LogRecordStore _store = null!;
    private readonly StoredRecord<QueueRegistryState>[] _buckets = new StoredRecord<QueueRegistryState>[Buckets];

    /// <summary>Buckets changed since the last write started.</summary>
    private readonly HashSet<int> _dirty = [];

    /// <summary>Completed by the write that takes the changes made so far.</summary>
    private TaskCompletionSource _nextWrite = NewWaiter();

    /// <summary>The write under way (completed when none is): it holds every change made before it started.</summary>
    private Task _writing = Task.CompletedTask;
    private bool _flushing;
    private List<string>? _sorted;

    /// <summary>Set when a write failed: the grain deactivates and reads its records again; until then changes fail alike.</summary>
    private Exception? _failed;

    public static string BucketName(int bucket) => "names-" + bucket.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The bucket of <paramref name="name"/>: FNV-1a over its characters, the same in every process.</summary>
    public static int BucketOf(string name)
    {
        var hash = 2166136261u;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % Buckets);
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _store = new LogRecordStore(_storage, this.GetGrainId());
        await Task.WhenAll(Enumerable.Range(0, Buckets).Select(async bucket => _buckets[bucket] = await _store.ReadAsync<QueueRegistryState>(BucketName(bucket))));

        var single = await _store.ReadAsync<QueueRegistryState>(SingleRecordName);
        if (single.RecordExists)
        {
            // Moved before the old record goes: cut short in between, the next activation moves the same names again.
            foreach (var name in single.State.Names)
            {
                if (_buckets[BucketOf(name)].State.Names.Add(name))
                {
                    _dirty.Add(BucketOf(name));
                }
            }

            await WriteAsync([.. _dirty]);
            _dirty.Clear();
            await _store.ClearAsync(SingleRecordName, single);
        }
    }

    public Task Add(string queue) => Change(queue, add: true);

    public Task Remove(string queue) => Change(queue, add: false);

    public Task<IReadOnlyList<string>> List()
    {
        _sorted ??= [.. _buckets.SelectMany(b => b.State.Names).Order(StringComparer.Ordinal)];
        return Task.FromResult<IReadOnlyList<string>>(_sorted);
    }

    private Task Change(string name, bool add)
    {
        if (_failed is not null)
        {
            return Task.FromException(_failed);
        }

        var bucket = BucketOf(name);
        var names = _buckets[bucket].State.Names;
        if (add ? names.Add(name) : names.Remove(name))
        {
            _sorted = null;
            _dirty.Add(bucket);
        }

        if (_dirty.Count == 0)
        {
            // Nothing waits to be written: the name is stored as asked, or will be once the write under way lands.
            return _writing;
        }

        var waiter = _nextWrite.Task;
        if (!_flushing)
        {
            _flushing = true;
            _ = FlushLoopAsync();
        }

        return waiter;
    }

    private async Task FlushLoopAsync()
    {
        try
        {
            // Yield once so that every change already queued on the grain joins this write.
            await Task.Yield();
            while (_dirty.Count > 0)
            {
                int[] taken = [.. _dirty];
                _dirty.Clear();
                var waiters = _nextWrite;
                _nextWrite = NewWaiter();
                _writing = waiters.Task;
                try
                {
                    await WriteAsync(taken);
                }
                catch (Exception exception)
                {
                    // The records may or may not have landed, so their versions are unknown: the next activation reads them
                    // again. Callers get a broker error (a queue's creation or deletion fails and may be retried).
                    _failed = exception as OrleansBroker.Errors.BrokerException ?? Logged(exception, taken.Length);
                    waiters.TrySetException(_failed);
                    _nextWrite.TrySetException(_failed);
                    DeactivateOnIdle();
                    return;
                }

                waiters.TrySetResult();
            }
        }
        finally
        {
            _flushing = false;
        }
    }

    /// <summary>
    /// Writes a copy of each bucket's names under its ETag: a storage provider may serialize off the grain's turn, while
    /// other calls change the names.
    /// </summary>
    private Task WriteAsync(IEnumerable<int> buckets) => Task.WhenAll(buckets.Select(bucket =>
        _store.WriteCopyAsync(BucketName(bucket), _buckets[bucket], new QueueRegistryState { Names = new HashSet<string>(_buckets[bucket].State.Names, StringComparer.Ordinal) })));

    /// <summary>A failure the storage did not turn into a broker error (logged there): logged here under a correlation id.</summary>
    private OrleansBroker.Errors.BrokerException Logged(Exception exception, int buckets)
    {
        var correlationId = ClientSafeErrors.NewCorrelationId();
        LogWriteFailed(exception, this.GetGrainId(), buckets, correlationId);
        return ClientSafeErrors.FromStorage(exception, "store the list of names", correlationId);
    }

    private static TaskCompletionSource NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Buckets} name records of {GrainId} failed [correlation id {CorrelationId}]; callers get a broker error with this id and the list is read again")]
    private partial void LogWriteFailed(Exception exception, GrainId grainId, int buckets, string correlationId);
}

/// <summary>Persisted names of one bucket of <see cref="QueueRegistryGrain"/> (and of the single record it moves from).</summary>
[GenerateSerializer, Alias("ob.queue-registry")]
internal sealed class QueueRegistryState
{
    [Id(0)] public HashSet<string> Names { get; set; } = new(StringComparer.Ordinal);
}
