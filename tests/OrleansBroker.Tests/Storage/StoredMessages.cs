using OrleansBroker.Server.Log;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>Stored messages compared field by field.</summary>
internal static class StoredMessages
{
    public static void AssertSame(IReadOnlyList<StoredMessage> expected, IReadOnlyList<StoredMessage> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.Equal(e.Sequence, a.Sequence);
            Assert.Equal(e.MessageId, a.MessageId);
            Assert.Equal(e.Body, a.Body);
            Assert.Equal(e.ContentType, a.ContentType);
            Assert.Equal(e.Headers?.OrderBy(h => h.Key), a.Headers?.OrderBy(h => h.Key));
            Assert.Equal(e.RoutingKey, a.RoutingKey);
            Assert.Equal(e.EnqueuedAt, a.EnqueuedAt);
        }
    }
}
