using OrleansBroker.Server.Queues.Leases;
using Xunit;

namespace OrleansBroker.Tests.Queues.Leases;

/// <summary>Settles applied whose commit failed: a retry with the delivery's own token is taken once; the set stays bounded.</summary>
public sealed class UnconfirmedSettlesTests
{
    [Fact]
    public void A_retry_is_taken_once_and_only_with_the_token_of_the_delivery()
    {
        var settles = new UnconfirmedSettles(capacity: 10);
        settles.Add(7, token: 70);

        Assert.False(settles.TryTake(7, 71));
        Assert.False(settles.TryTake(8, 70));
        Assert.True(settles.TryTake(7, 70));
        Assert.False(settles.TryTake(7, 70));
        Assert.Equal(0, settles.Count);
    }

    [Fact]
    public void Past_its_capacity_the_oldest_are_forgotten_and_a_newer_token_of_a_sequence_is_kept()
    {
        var settles = new UnconfirmedSettles(capacity: 3);
        settles.Add(1, 10);
        settles.Add(2, 20);
        settles.Add(1, 11);
        settles.Add(3, 30);
        settles.Add(4, 40);

        Assert.Equal(3, settles.Count);
        Assert.False(settles.TryTake(1, 10));
        Assert.True(settles.TryTake(1, 11));
        Assert.False(settles.TryTake(2, 20));
        Assert.True(settles.TryTake(3, 30));
        Assert.True(settles.TryTake(4, 40));

        // Retries taken out leave nothing that grows: many add-and-take rounds stay within the capacity.
        for (var i = 0; i < 1_000; i++)
        {
            settles.Add(100 + i, i);
            Assert.True(settles.TryTake(100 + i, i));
        }

        settles.Add(5, 50);
        Assert.True(settles.TryTake(5, 50));
        Assert.Equal(0, settles.Count);
    }
}
