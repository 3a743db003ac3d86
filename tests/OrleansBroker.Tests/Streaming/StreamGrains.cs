using System.Collections.Concurrent;
using Orleans.Streams;
using Orleans.Streams.Core;
using OrleansBroker.Streaming;

namespace OrleansBroker.Tests.Streaming;

/// <summary>An event an application produces through an Orleans stream of the broker provider.</summary>
[GenerateSerializer, Alias("test.order-event")]
public sealed record OrderEvent([property: Id(0)] string OrderId, [property: Id(1)] int Step);

/// <summary>One event a test grain handled, or failed on.</summary>
public sealed record Seen(string Grain, string What, int Attempt, bool Failed, DateTime At);

/// <summary>
/// What the test grains saw. The cluster runs in this process, so grains write here and tests read; entries are keyed
/// by grain (stream) key, which every test makes unique, so test classes running at once do not mix.
/// </summary>
public static class StreamProbe
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<Seen>> ByGrain = new();

    public static void Record(Seen seen) => ByGrain.GetOrAdd(seen.Grain, _ => new()).Enqueue(seen);

    public static IReadOnlyList<Seen> Of(string grain) => ByGrain.TryGetValue(grain, out var seen) ? seen.ToList() : [];

    /// <summary>Handles one stream item the way the test grains do: "poison" always throws, "flaky" throws before attempt 3.</summary>
    public static Task Handle(string grain, object item)
    {
        var (what, attempt) = item switch
        {
            BrokerStreamMessage message => (message.BodyText(), message.Attempt),
            OrderEvent order => ($"{order.OrderId}:{order.Step}", 0),
            _ => (item.GetType().Name, 0),
        };
        var fail = what == "poison" || (what == "flaky" && attempt < 3);
        Record(new Seen(grain, what, attempt, fail, DateTime.UtcNow));
        return fail ? throw new InvalidOperationException($"test handler refuses '{what}' (attempt {attempt})") : Task.CompletedTask;
    }
}

public interface IStreamTestGrain : IGrainWithStringKey
{
    Task Subscribe();
}

/// <summary>Consumes every stream of the topic <see cref="Topic"/> through an implicit subscription.</summary>
[ImplicitStreamSubscription(Topic)]
public sealed class ImplicitConsumerGrain : Grain, IStreamTestGrain, IStreamSubscriptionObserver
{
    public const string Topic = "stream-orders";

    public Task Subscribe() => Task.CompletedTask;

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<object>().ResumeAsync((item, _) => StreamProbe.Handle(this.GetPrimaryKeyString(), item));
}

/// <summary>Subscribes explicitly (when told) to the stream of <see cref="Topic"/> keyed like the grain, and resumes that subscription whenever it activates.</summary>
public sealed class ExplicitConsumerGrain : Grain, IStreamTestGrain
{
    public const string Topic = "stream-payments";

    private IAsyncStream<object> Stream => this.GetStreamProvider("broker").GetStream<object>(StreamId.Create(Topic, this.GetPrimaryKeyString()));

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var handle in await Stream.GetAllSubscriptionHandles())
        {
            await handle.ResumeAsync(OnNextAsync);
        }
    }

    public async Task Subscribe()
    {
        if ((await Stream.GetAllSubscriptionHandles()).Count == 0)
        {
            await Stream.SubscribeAsync(OnNextAsync);
        }
    }

    private Task OnNextAsync(object item, StreamSequenceToken? token) => StreamProbe.Handle(this.GetPrimaryKeyString(), item);
}
