using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Queues;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Queues.Parts;

/// <summary>
/// One queue's parts (<see cref="QueueCore"/>) with no silo around them: its log on in-memory storage that serializes like the
/// real stores, a clock the test moves, its work run one piece at a time on an exclusive scheduler as on a grain's. The wake
/// timer fires when the clock passes it; the tick runs when the test says. Dead letters land in <see cref="DeadLetters"/>.
/// </summary>
internal sealed class QueueCoreHarness : IQueueHost
{
    private readonly TaskScheduler _scheduler = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;
    private readonly SerializingMemoryStorage _storage = SerializingMemoryStorage.New();
    private readonly string _name;
    private DateTimeOffset? _wakeAt;

    private QueueCoreHarness(string name)
    {
        _name = name;
        Core = NewCore();
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public QueueCore Core { get; private set; }

    public RecordingDeadLetterTarget DeadLetters { get; } = new();

    /// <summary>How many times the wake timer fired.</summary>
    public int Wakes { get; private set; }

    public IGrainFactory Grains => throw new InvalidOperationException("A queue in this harness has one partition and reaches no other grain.");

    public bool SiloTerminating => false;

    public Task StoreDeadLettersAsync(string queue, IReadOnlyList<BrokerMessage> letters)
    {
        DeadLetters.Letters.AddRange(letters);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<PublishReceipt>> StoreRedrivenAsync(string queue, IReadOnlyList<BrokerMessage> messages) =>
        throw new NotSupportedException("Redrive is tested on a silo.");

    public void WakeIn(TimeSpan delay) => _wakeAt = Time.GetUtcNow() + delay;

    public void DeliveriesOut(DateTimeOffset now)
    {
    }

    public void StepDown() => throw new InvalidOperationException("The harness's log has one writer.");

    private QueueCore NewCore() => new(_name, _storage, GrainId.Create("obroker-test-queue", _name), new BrokerOptions { CommitLinger = TimeSpan.Zero },
        Time, this, NullLogger.Instance);

    /// <summary>A created queue with <paramref name="options"/>, its log loaded.</summary>
    public static async Task<QueueCoreHarness> CreateAsync(QueueOptions options, string name = "parts")
    {
        var harness = new QueueCoreHarness(name);
        await harness.RunAsync(async () =>
        {
            await harness.Core.LoadAsync();
            harness.Core.Log.UpdateMeta(meta =>
            {
                meta.Created = true;
                meta.Options = options;
            });
            await harness.Core.Log.CommitAsync();
        });
        return harness;
    }

    /// <summary>
    /// The silo dies: the queue's memory is gone, and a new activation loads the log from what storage holds (nothing handed
    /// off). Returns once recovery has read all of it.
    /// </summary>
    public async Task CrashAsync()
    {
        var dead = Core;
        await RunAsync(() => dead.Log.Stop());
        _wakeAt = null;
        Core = NewCore();
        await RunAsync(async () =>
        {
            await Core.LoadAsync();
            await Core.Log.Recovery;
        });
        await QuiesceAsync();
    }

    public Task RunAsync(Func<Task> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _scheduler).Unwrap();

    public Task<T> RunAsync<T>(Func<Task<T>> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _scheduler).Unwrap();

    public Task RunAsync(Action work) => RunAsync(() =>
    {
        work();
        return Task.CompletedTask;
    });

    /// <summary>Publishes and waits until the queue has done all it does with the messages (stored, leased, sent).</summary>
    public async Task<IReadOnlyList<PublishReceipt>> PublishAsync(params BrokerMessage[] messages)
    {
        var receipts = await RunAsync(() => Core.Publisher.AppendAsync(messages, deduplicate: true));
        await QuiesceAsync();
        return receipts;
    }

    public Task<IReadOnlyList<PublishReceipt>> PublishAsync(int count, string prefix = "m") =>
        PublishAsync([.. Enumerable.Range(0, count).Select(i => Message($"{prefix}{i}"))]);

    public static BrokerMessage Message(string id, string? key = null, TimeSpan? delay = null, TimeSpan? ttl = null) =>
        new(id, [1, 2, 3], Delay: delay, TimeToLive: ttl, OrderingKey: key);

    public async Task<TestConsumer> SubscribeAsync(string id, int prefetch)
    {
        var consumer = new TestConsumer(id);
        await RunAsync(() => Core.Dispatcher.Register(id, prefetch, consumer));
        await QuiesceAsync();
        return consumer;
    }

    public async Task<IReadOnlyList<SettleStatus>> SettleAsync(SettleKind kind, params Delivery[] deliveries)
    {
        var results = await RunAsync(() => Core.Settlements.SettleAsync([.. deliveries.Select(d => new Settlement(d.Sequence, d.LeaseToken, kind))]));
        await QuiesceAsync();
        return results;
    }

    /// <summary>Moves the clock on; the wake timer fires if its time has come.</summary>
    public async Task AdvanceAsync(TimeSpan by)
    {
        Time.Advance(by);
        if (_wakeAt is { } at && at <= Time.GetUtcNow())
        {
            _wakeAt = null;
            Wakes++;
            await RunAsync(Core.Wake);
        }

        await QuiesceAsync();
    }

    /// <summary>The queue's periodic tick, as its timer would run it now.</summary>
    public async Task TickAsync()
    {
        await RunAsync(() => Core.Tick(Time.GetUtcNow()));
        await QuiesceAsync();
    }

    /// <summary>Where each live message stands, by sequence.</summary>
    public Task<List<PeekedMessage>> PeekAsync() => RunAsync(async () => (await Server.Queues.Browsing.Browser.PeekAsync(Core.State, 0, 1000, CancellationToken.None)).ToList());

    /// <summary>Waits until commits, sends and dead-letter moves under way are done (each may start the next; bounded, so a loop fails the test).</summary>
    public async Task QuiesceAsync()
    {
        for (var round = 0; round < 100; round++)
        {
            var (busy, work) = await RunAsync(() =>
            {
                var pending = Core.Dispatcher.SendsUnderWay().Append(Core.DeadLetters.Move).Where(t => !t.IsCompleted).ToList();
                return Task.FromResult((pending.Count > 0 || Core.Log.HasPendingWork, pending));
            });
            if (!busy)
            {
                return;
            }

            await RunAsync(async () =>
            {
                await Core.Log.CommitAsync();
                await Task.WhenAll(work);
            }).WaitAsync(TimeSpan.FromSeconds(30));
        }

        throw new TimeoutException("The queue did not come to rest in 100 rounds of commits and sends.");
    }
}

/// <summary>A consumer as the queue sees one: what it was sent, in order.</summary>
/// <remarks><c>journal</c>: where every consumer of a test records what it got, in the order sent.</remarks>
internal sealed class TestConsumer(string id, List<Delivery>? journal = null) : IConsumerObserver
{
    public string Id { get; } = id;

    public List<Delivery> Received { get; } = [];

    /// <summary>The prefetch it registers with.</summary>
    public int Prefetch { get; set; } = 1;

    /// <summary>What was sent and not yet settled by the test.</summary>
    public List<Delivery> Holding { get; } = [];

    public Task Deliver(IReadOnlyList<Delivery> deliveries)
    {
        Received.AddRange(deliveries);
        Holding.AddRange(deliveries);
        journal?.AddRange(deliveries);
        return Task.CompletedTask;
    }

    public Task Moving() => Task.CompletedTask;

    /// <summary>Takes the oldest delivery held, to settle it.</summary>
    public Delivery Take()
    {
        var first = Holding[0];
        Holding.RemoveAt(0);
        return first;
    }
}

/// <summary>A dead-letter queue that keeps what it is sent.</summary>
internal sealed class RecordingDeadLetterTarget
{
    public List<BrokerMessage> Letters { get; } = [];
}
