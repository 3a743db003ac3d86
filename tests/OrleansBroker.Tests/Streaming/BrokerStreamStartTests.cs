using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Streaming;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Streaming;

/// <summary>
/// The stream provider's subscriptions are made while the silo starts, on real SQLite storage: one that already
/// exists with other options stops the start with a reason that names the provider and the subscription.
/// </summary>
public sealed class BrokerStreamStartTests
{
    [Fact]
    public async Task A_stream_subscription_that_exists_with_other_options_stops_the_silo_start_with_the_reason()
    {
        using var data = new TestData();
        const string Topic = "stream-start-conflict";
        await using (var plain = await BrokerCluster.StartAsync(sqlite: o => o.DataDirectory = data.Directory))
        {
            await plain.Admin.CreateTopicAsync(Topic);
            await plain.Admin.CreateSubscriptionAsync(Topic, new Subscription("orleans-broker", new SubscriptionFilter(["only.this"]), new QueueOptions()));
        }

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => BrokerCluster.StartAsync(sqlite: o => o.DataDirectory = data.Directory,
            silo: s => s.AddBrokerStreams("broker", o => o.Topics.Add(Topic))));

        var reason = Causes(failure).OfType<BrokerException>().FirstOrDefault();
        Assert.True(reason is not null, $"the start failed with a broker error; it failed with {failure}");
        Assert.Equal(BrokerErrorCode.QueueExistsWithOtherOptions, reason.Code);
        Assert.Contains("Stream provider 'broker'", reason.Message, StringComparison.Ordinal);
        Assert.Contains($"{Topic}/orleans-broker", reason.Message, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Causes(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Causes))
                {
                    yield return inner;
                }
            }
        }
    }
}
