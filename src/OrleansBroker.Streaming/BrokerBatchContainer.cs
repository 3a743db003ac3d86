using Orleans.Providers.Streams.Common;
using Orleans.Streams;

namespace OrleansBroker.Streaming;

/// <summary>The events of one broker message, as the pulling agent caches them and hands them to consumers.</summary>
[GenerateSerializer, Alias("ob.stream-batch")]
internal sealed class BrokerBatchContainer(StreamId streamId, List<object> events, Dictionary<string, object>? requestContext, EventSequenceTokenV2 token) : IBatchContainer
{
    [Id(0)]
    public StreamId StreamId { get; } = streamId;

    [Id(1)]
    public List<object> Events { get; } = events;

    [Id(2)]
    public Dictionary<string, object>? RequestContextValues { get; } = requestContext;

    [Id(3)]
    public EventSequenceTokenV2 Token { get; } = token;

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>()
    {
        for (var i = 0; i < Events.Count; i++)
        {
            if (Events[i] is T item)
            {
                yield return Tuple.Create(item, (StreamSequenceToken)Token.CreateSequenceTokenForEvent(i));
            }
        }
    }

    public bool ImportRequestContext()
    {
        if (RequestContextValues is not { Count: > 0 })
        {
            return false;
        }

        foreach (var (key, value) in RequestContextValues)
        {
            RequestContext.Set(key, value);
        }

        return true;
    }
}

/// <summary>What an Orleans producer's message body holds: its events and request context, serialized by Orleans.</summary>
[GenerateSerializer, Alias("ob.stream-payload")]
internal sealed record BrokerStreamPayload(
    [property: Id(0)] List<object> Events,
    [property: Id(1)] Dictionary<string, object>? RequestContext);
