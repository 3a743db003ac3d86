using System.Text;
using Amqp;
using Amqp.Framing;
using Amqp.Types;
using OrleansBroker.Amqp.Protocol;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using Xunit;

namespace OrleansBroker.Tests.Amqp;

/// <summary>AMQP addresses and messages to and from the broker's, without a silo.</summary>
public sealed class AmqpMappingTests
{
    [Theory]
    [InlineData("/queues/orders", "Queue", "orders", null, "orders")]
    [InlineData("/queues/a%20b%2Fc", "Queue", "a b/c", null, "a b/c")]
    [InlineData("/topics/events", "Topic", "events", null, "events")]
    [InlineData("/topics/events/subscriptions/eu", "Subscription", "events", "eu", "events/eu")]
    [InlineData("/queues/orders?durable=true", "Queue", "orders", null, "orders")]
    public void Addresses_in_the_v2_format_name_their_node(string address, string kind, string name, string? subscription, string permission)
    {
        var parsed = AmqpAddress.Parse(address, out var problem);
        Assert.Null(problem);
        Assert.Equal(new AmqpAddress(Enum.Parse<AmqpNodeKind>(kind), name, subscription), parsed);
        Assert.Equal(permission, parsed!.PermissionName);
        Assert.Equal($"tenant-a@{permission}", parsed.Qualified("tenant-a"));
        Assert.Equal(parsed, AmqpAddress.Parse(parsed.ToString(), out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("orders")]
    [InlineData("/queues")]
    [InlineData("/queues/")]
    [InlineData("/exchanges/amq.topic")]
    [InlineData("/topics/events/subscriptions")]
    [InlineData("/queues/a/b")]
    [InlineData("/queues/other@orders")]
    [InlineData("//queues/orders")]
    public void Anything_else_is_refused_with_a_reason(string? address)
    {
        Assert.Null(AmqpAddress.Parse(address, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
    }

    [Fact]
    public void A_message_with_every_field_round_trips_through_the_broker_message()
    {
        var message = new Message
        {
            BodySection = new Data { Binary = "payload"u8.ToArray() },
            Header = new Header { Priority = 200, Ttl = 60_000 },
            Properties = new Properties { MessageId = "id-1", CorrelationId = "corr", Subject = "eu.created", ContentType = "application/json", ReplyTo = "/queues/r", GroupId = "g" },
            ApplicationProperties = new ApplicationProperties { ["s"] = "text", ["n"] = 42, ["b"] = false, ["d"] = 1.5 },
            MessageAnnotations = new MessageAnnotations { [new Symbol("x-opt-delivery-delay")] = 5_000L },
        };
        var broker = AmqpMessages.ToBroker(message, 1024);
        Assert.Equal("id-1", broker.Id);
        Assert.Equal("payload", Encoding.UTF8.GetString(broker.Body));
        Assert.Equal("eu.created", broker.RoutingKey);
        Assert.Equal("application/json", broker.ContentType);
        Assert.Equal("g", broker.OrderingKey);
        Assert.Equal(BrokerLimits.MaxPriority, broker.Priority);
        Assert.Equal(TimeSpan.FromMinutes(1), broker.TimeToLive);
        Assert.Equal(TimeSpan.FromSeconds(5), broker.Delay);
        Assert.Equal(new Dictionary<string, string>
        {
            ["s"] = "text",
            ["n"] = "42",
            ["b"] = "false",
            ["d"] = "1.5",
            [AmqpMessages.CorrelationIdHeader] = "corr",
            [AmqpMessages.ReplyToHeader] = "/queues/r",
        }, broker.Headers);

        var back = AmqpMessages.ToAmqp(new Delivery("q", "id-1", 7, broker.Body, broker.ContentType, broker.Headers, broker.RoutingKey,
            DateTimeOffset.UnixEpoch, 3, 1, DateTimeOffset.UnixEpoch, broker.Priority, broker.OrderingKey));
        Assert.Equal("payload", Encoding.UTF8.GetString(((Data)back.BodySection).Binary));
        Assert.Equal(("id-1", "corr", "eu.created", "application/json", "/queues/r", "g"),
            (back.Properties.MessageId, back.Properties.CorrelationId, back.Properties.Subject, (string)back.Properties.ContentType, back.Properties.ReplyTo, back.Properties.GroupId));
        Assert.Equal((byte)BrokerLimits.MaxPriority, back.Header.Priority);
        Assert.Equal(2u, back.Header.DeliveryCount);
        Assert.False(back.Header.FirstAcquirer);
        Assert.Equal(7L, back.MessageAnnotations[new Symbol("x-opt-sequence-number")]);
        Assert.Equal("42", back.ApplicationProperties["n"]);
        Assert.Null(back.ApplicationProperties[AmqpMessages.CorrelationIdHeader]);
    }

    [Fact]
    public void Value_bodies_come_back_as_they_were_sent()
    {
        var text = AmqpMessages.ToBroker(new Message("héllo"), 1024);
        Assert.Equal("héllo", Encoding.UTF8.GetString(text.Body));
        Assert.Equal("string", text.Headers![AmqpMessages.BodyHeader]);
        Assert.Equal("héllo", ((AmqpValue)RoundTrip(text).BodySection).Value);

        var list = new List { "a", 1L, true };
        var typed = AmqpMessages.ToBroker(new Message(list), 1024);
        Assert.Equal("amqp", typed.Headers![AmqpMessages.BodyHeader]);
        Assert.Equal(list, (List)((AmqpValue)RoundTrip(typed).BodySection).Value);

        var empty = AmqpMessages.ToBroker(new Message(), 1024);
        Assert.Empty(empty.Body);
        Assert.Null(empty.Headers);
    }

    [Fact]
    public void What_cannot_be_a_broker_message_is_refused_with_a_typed_error()
    {
        var tooLarge = new Message { BodySection = new Data { Binary = new byte[1025] } };
        Assert.Equal(BrokerErrorCode.MessageTooLarge, Assert.Throws<BrokerException>(() => AmqpMessages.ToBroker(tooLarge, 1024)).Code);
        var map = new Message { BodySection = new Data { Binary = [] }, ApplicationProperties = new ApplicationProperties { ["m"] = new Map() } };
        Assert.Equal(BrokerErrorCode.InvalidMessage, Assert.Throws<BrokerException>(() => AmqpMessages.ToBroker(map, 1024)).Code);
        var badTime = new Message { BodySection = new Data { Binary = [] }, MessageAnnotations = new MessageAnnotations { [new Symbol("x-opt-delivery-time")] = "tomorrow" } };
        Assert.Equal(BrokerErrorCode.InvalidMessage, Assert.Throws<BrokerException>(() => AmqpMessages.ToBroker(badTime, 1024)).Code);
        Assert.Equal("amqp:link:message-size-exceeded", AmqpErrors.Condition(new BrokerException(BrokerErrorCode.MessageTooLarge, "x")));
        Assert.Equal("amqp:internal-error", AmqpErrors.Condition(new InvalidOperationException()));
    }

    private static Message RoundTrip(BrokerMessage message) => AmqpMessages.ToAmqp(new Delivery("q", "id", 1, message.Body, message.ContentType, message.Headers,
        message.RoutingKey, DateTimeOffset.UnixEpoch, 1, 1, DateTimeOffset.UnixEpoch));
}
