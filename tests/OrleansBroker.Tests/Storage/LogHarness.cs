using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Storage;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// Runs a <see cref="MessageLog"/> outside a grain the way a grain runs it: every continuation on one
/// exclusive scheduler, so the log's background commit loop interleaves with the test only at awaits.
/// </summary>
internal sealed class LogHarness(IGrainStorage storage, MessageLogOptions? options = null)
{
    private readonly TaskScheduler _scheduler = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;

    public GrainId GrainId { get; } = GrainId.Create("obroker-test-log", Guid.NewGuid().ToString("N"));

    public IGrainStorage Storage { get; } = storage;

    public MessageLogOptions Options { get; } = options ?? new MessageLogOptions(1024 * 1024, 2000, 16 * 1024 * 1024);

    /// <summary>What the log told its owner, as a queue grain would hear it.</summary>
    public RecordingListener Listener { get; } = new();

    /// <summary>A fresh log over the same records, as a new activation would create it.</summary>
    public MessageLog NewLog() => new(Storage, GrainId, Options, NullLogger.Instance, Listener);

    public Task RunAsync(Func<Task> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _scheduler).Unwrap();

    public Task<T> RunAsync<T>(Func<Task<T>> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _scheduler).Unwrap();

    /// <summary>A new activation's view once recovery is done: the live messages, bodies read back, in sequence order; the activation is stopped then.</summary>
    public Task<List<LiveMessage>> ReloadAsync() => RunAsync(async () =>
    {
        var log = NewLog();
        await log.LoadAsync();
        await log.Recovery;
        var live = new List<LiveMessage>();
        foreach (var entry in log.TrackedEntries().ToList())
        {
            live.Add(new LiveMessage(await log.ReadMessageAsync(entry), entry.Attempts));
        }

        // Only a look: it writes nothing by itself later (what a quiet log does), as a deactivated queue's log would not.
        log.Stop();
        return live;
    });

    public static List<StoredMessage> Messages(MessageLog log, int count, int bodyBytes = 16, string prefix = "m")
    {
        var messages = new List<StoredMessage>(count);
        for (var i = 0; i < count; i++)
        {
            var sequence = log.NextSequence();
            var body = new byte[bodyBytes];
            BitConverter.TryWriteBytes(body, sequence);
            messages.Add(new StoredMessage(sequence, $"{prefix}{sequence}", body, "application/octet-stream",
                new Dictionary<string, string> { ["n"] = $"{sequence}" }, "rk", DateTimeOffset.UnixEpoch.AddSeconds(sequence)));
        }

        return messages;
    }

    /// <summary>Whether record <paramref name="name"/> of this log (meta, s{n}, a{n} or d{n}) exists in storage.</summary>
    public async Task<bool> RecordExistsAsync(string name) => name switch
    {
        "meta" => await RecordExistsAsync<LogMeta>(name),
        _ when name.StartsWith('a') => await RecordExistsAsync<SegmentStateRecord>(name),
        _ when name.StartsWith('d') => await RecordExistsAsync<DedupRecord>(name),
        _ => await RecordExistsAsync<SegmentRecord>(name),
    };

    private async Task<bool> RecordExistsAsync<T>(string name)
        where T : class, new()
    {
        var record = new StoredRecord<T>();
        await Storage.ReadStateAsync(name, GrainId, record);
        return record.RecordExists;
    }
}

/// <summary>A live message as a reloaded log holds it.</summary>
internal sealed record LiveMessage(StoredMessage Message, int Attempts);

/// <summary>Counts what a <see cref="MessageLog"/> hands its owner.</summary>
internal sealed class RecordingListener : IMessageLogListener
{
    public List<long> Committed { get; } = [];

    public List<long> Recovered { get; } = [];

    public int PagedIn { get; private set; }

    public int TakenOver { get; private set; }

    /// <summary>How many of each commit's new messages the owner says it hands out on landing (first attempt stored with them).</summary>
    public int HandOutOnLanding { get; set; }

    public int DeliverableOnLanding(IReadOnlyList<StoredMessage> messages) => Math.Min(HandOutOnLanding, messages.Count);

    public void OnLogTakenOver() => TakenOver++;

    public void OnCommitted(IReadOnlyList<LogEntry> entries) => Committed.AddRange(entries.Select(e => e.Sequence));

    public void OnRecovered(IReadOnlyList<LogEntry> entries) => Recovered.AddRange(entries.Select(e => e.Sequence));

    public void OnPagedIn() => PagedIn++;
}

/// <summary>A grain storage whose writes fail on demand, in front of a real one: the storage outage a broker must survive.</summary>
internal sealed class FailingStorage(IGrainStorage inner) : IGrainStorage
{
    /// <summary>Puts a failing storage over the silo's real SQLite files as the broker's storage; <see cref="Of"/> finds it.</summary>
    public static void OverSqlite(ISiloBuilder silo)
    {
        silo.Services.AddSingleton(sp => new FailingStorage(new SqliteGrainStorage(sp.GetRequiredService<SqliteStore>(), sp.GetRequiredService<Serializer>())));
        silo.Services.AddKeyedSingleton<IGrainStorage>(BrokerOptions.StorageProviderName, (sp, _) => sp.GetRequiredService<FailingStorage>());
    }

    /// <summary>The failing storage <see cref="OverSqlite"/> installed in <paramref name="cluster"/>'s silo.</summary>
    public static FailingStorage Of(BrokerCluster cluster) => cluster.SiloServices.GetRequiredService<FailingStorage>();

    /// <summary>When set, writes and clears of records whose name it accepts fail with an IOException.</summary>
    public Func<string, bool>? FailWrites { get; set; }

    /// <summary>When set, only grains it accepts see <see cref="FailWrites"/>; others write as usual.</summary>
    public Func<GrainId, bool>? OfGrains { get; set; }

    /// <summary>When set, writes of records whose name it accepts wait for <see cref="Release"/> first: a commit caught mid-way.</summary>
    public Func<string, bool>? HoldWrites { get; set; }

    /// <summary>Completed to let held writes go on.</summary>
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once a write has been held.</summary>
    public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _failures;

    /// <summary>Writes and clears failed so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    private bool Fails(string stateName, GrainId grainId)
    {
        var fails = FailWrites?.Invoke(stateName) == true && OfGrains?.Invoke(grainId) != false;
        if (fails)
        {
            Interlocked.Increment(ref _failures);
        }

        return fails;
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (HoldWrites?.Invoke(stateName) == true)
        {
            Held.TrySetResult();
            await Release.Task;
        }

        if (Fails(stateName, grainId))
        {
            throw new IOException($"storage down (write of {stateName})");
        }

        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Fails(stateName, grainId) ? Task.FromException(new IOException($"storage down (clear of {stateName})")) : inner.ClearStateAsync(stateName, grainId, grainState);
}
