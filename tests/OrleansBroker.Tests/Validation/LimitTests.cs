using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using Xunit;

namespace OrleansBroker.Tests.Validation;

/// <summary>Every documented limit holds exactly at its value and is refused one past it, with a typed error.</summary>
public sealed class LimitTests
{
    private const int MaxBody = 1000;

    public static TheoryData<string, BrokerMessage, BrokerErrorCode?> Messages => new()
    {
        { "body at the limit", new BrokerMessage(null, new byte[MaxBody]), null },
        { "body one past", new BrokerMessage(null, new byte[MaxBody + 1]), BrokerErrorCode.MessageTooLarge },
        { "empty body", new BrokerMessage(null, []), null },
        { "id at the limit", new BrokerMessage(new string('i', BrokerLimits.MaxMessageIdLength), [1]), null },
        { "id one past", new BrokerMessage(new string('i', BrokerLimits.MaxMessageIdLength + 1), [1]), BrokerErrorCode.InvalidMessage },
        { "empty id", new BrokerMessage("", [1]), BrokerErrorCode.InvalidMessage },
        { "content type at the limit", new BrokerMessage(null, [1], new string('c', BrokerLimits.MaxContentTypeLength)), null },
        { "content type one past", new BrokerMessage(null, [1], new string('c', BrokerLimits.MaxContentTypeLength + 1)), BrokerErrorCode.InvalidMessage },
        { "routing key at the limit", new BrokerMessage(null, [1], RoutingKey: new string('r', BrokerLimits.MaxRoutingKeyLength)), null },
        { "routing key one past", new BrokerMessage(null, [1], RoutingKey: new string('r', BrokerLimits.MaxRoutingKeyLength + 1)), BrokerErrorCode.InvalidMessage },
        { "headers at the count limit", new BrokerMessage(null, [1], Headers: Headers(BrokerLimits.MaxHeaderCount, 1)), null },
        { "headers one past the count", new BrokerMessage(null, [1], Headers: Headers(BrokerLimits.MaxHeaderCount + 1, 1)), BrokerErrorCode.InvalidMessage },
        { "headers past the byte limit", new BrokerMessage(null, [1], Headers: Headers(2, BrokerLimits.MaxHeaderBytes / 2)), BrokerErrorCode.InvalidMessage },
        { "header name one past", new BrokerMessage(null, [1], Headers: new Dictionary<string, string> { [new string('h', BrokerLimits.MaxHeaderNameLength + 1)] = "v" }), BrokerErrorCode.InvalidMessage },
        { "reserved header", new BrokerMessage(null, [1], Headers: new Dictionary<string, string> { [BrokerHeaders.ReservedPrefix + "mine"] = "v" }), BrokerErrorCode.InvalidMessage },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Message_limits(string what, BrokerMessage message, BrokerErrorCode? expected)
    {
        var error = Record.Exception(() => MessageValidator.Validate(message, MaxBody));
        if (expected is null)
        {
            Assert.True(error is null, $"{what}: {error?.Message}");
        }
        else
        {
            Assert.Equal(expected, Assert.IsType<BrokerException>(error).Code);
        }
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("orders.eu-west_1", true)]
    [InlineData("9lives", true)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("has space", false)]
    [InlineData("two/slash/es", false)]
    [InlineData("topic/subscription", true)]
    [InlineData("/subscription", false)]
    [InlineData("topic/", false)]
    [InlineData("ünicode", false)]
    public void Queue_name_rules(string name, bool valid) => Assert.Equal(valid, QueueName.Explain(name) is null);

    [Fact]
    public void Queue_name_length_limit()
    {
        Assert.Null(QueueName.Explain(new string('q', BrokerLimits.MaxNameLength)));
        var error = Assert.Throws<BrokerException>(() => QueueName.Validate(new string('q', BrokerLimits.MaxNameLength + 1)));
        Assert.Equal(BrokerErrorCode.InvalidName, error.Code);
    }

    public static TheoryData<string, QueueOptions, bool> Options => new()
    {
        { "defaults", new QueueOptions(), true },
        { "shortest lease", new QueueOptions { LeaseDuration = QueueOptions.MinLeaseDuration }, true },
        { "lease below the minimum", new QueueOptions { LeaseDuration = QueueOptions.MinLeaseDuration - TimeSpan.FromMilliseconds(1) }, false },
        { "longest lease", new QueueOptions { LeaseDuration = QueueOptions.MaxLeaseDuration }, true },
        { "lease past the maximum", new QueueOptions { LeaseDuration = QueueOptions.MaxLeaseDuration + TimeSpan.FromSeconds(1) }, false },
        { "most attempts", new QueueOptions { MaxDeliveryAttempts = QueueOptions.MaxMaxDeliveryAttempts }, true },
        { "attempts past the maximum", new QueueOptions { MaxDeliveryAttempts = QueueOptions.MaxMaxDeliveryAttempts + 1 }, false },
        { "negative attempts", new QueueOptions { MaxDeliveryAttempts = -1 }, false },
        { "no DLQ with unlimited attempts", new QueueOptions { MaxDeliveryAttempts = 0, DeadLetterQueue = "" }, true },
        { "no DLQ with limited attempts", new QueueOptions { MaxDeliveryAttempts = 3, DeadLetterQueue = "" }, false },
        { "invalid DLQ name", new QueueOptions { DeadLetterQueue = "bad name" }, false },
        { "named DLQ", new QueueOptions { DeadLetterQueue = "poison" }, true },
    };

    [Theory]
    [MemberData(nameof(Options))]
    public void Queue_option_ranges(string what, QueueOptions options, bool valid)
    {
        var error = Record.Exception(() => options.Validate("orders"));
        if (valid)
        {
            Assert.True(error is null, $"{what}: {error?.Message}");
        }
        else
        {
            Assert.Equal(BrokerErrorCode.InvalidOptions, Assert.IsType<BrokerException>(error).Code);
        }
    }

    [Fact]
    public void Dead_letter_queue_defaults_to_name_dot_dlq()
    {
        Assert.Equal("orders.dlq", new QueueOptions().ResolveDeadLetterQueue("orders"));
        Assert.Null(QueueOptions.ForDeadLetterQueue().ResolveDeadLetterQueue("orders.dlq"));
    }

    private static Dictionary<string, string> Headers(int count, int valueLength) =>
        Enumerable.Range(0, count).ToDictionary(i => $"h{i}", _ => new string('v', valueLength));
}
