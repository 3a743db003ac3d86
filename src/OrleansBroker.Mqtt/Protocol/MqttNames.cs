using System.Security.Cryptography;
using System.Text;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// How MQTT names map onto the broker's, as RabbitMQ's MQTT plugin maps them: an MQTT topic name is a routing key of the
/// tenant's MQTT topic with <c>/</c> and <c>.</c> swapped (<c>sensors/room.1/temp</c> is <c>sensors.room/1.temp</c>), a
/// filter is a routing pattern (<c>+</c> is <c>*</c>, <c>#</c> is <c>#</c>), and a session is a subscription of that topic.
/// </summary>
internal static class MqttNames
{
    /// <summary>Longest topic name or filter: the routing-key limit, 256 characters.</summary>
    public const int MaxTopicLength = BrokerLimits.MaxRoutingKeyLength;

    /// <summary>The routing key of MQTT topic name <paramref name="topic"/>.</summary>
    public static string ToRoutingKey(string topic) => Swap(topic);

    /// <summary>The MQTT topic name of <paramref name="routingKey"/>; a message without a key carries the broker topic's name.</summary>
    public static string ToTopicName(string? routingKey, string brokerTopic) => routingKey is null or "" ? brokerTopic : Swap(routingKey);

    /// <summary>The routing pattern of an MQTT filter already found valid by <see cref="ExplainFilter"/>.</summary>
    public static string ToPattern(string filter)
    {
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            levels[i] = levels[i] switch
            {
                "+" => "*",
                "#" => "#",
                var level => level.Replace('.', '/'),
            };
        }

        return string.Join('.', levels);
    }

    /// <summary>Why <paramref name="topic"/> cannot be published to, or null.</summary>
    public static string? ExplainTopicName(string? topic)
    {
        if (string.IsNullOrEmpty(topic))
        {
            return "the topic name is empty";
        }

        if (topic.Length > MaxTopicLength)
        {
            return $"the topic name is {topic.Length} characters; the limit is {MaxTopicLength}";
        }

        if (topic.Contains('+', StringComparison.Ordinal) || topic.Contains('#', StringComparison.Ordinal))
        {
            return $"topic name '{topic}' has a wildcard";
        }

        if (topic[0] == '$')
        {
            return $"topic names beginning with '$' are reserved ('{topic}')";
        }

        return topic.Contains('\0', StringComparison.Ordinal) ? "the topic name has a NUL character" : null;
    }

    /// <summary>
    /// Why <paramref name="filter"/> cannot be subscribed to, or null. Beyond MQTT's own rules, a level may not be empty
    /// (<c>a//b</c>, <c>/a</c>) nor be <c>*</c>, since routing patterns cannot say either.
    /// </summary>
    public static string? ExplainFilter(string? filter)
    {
        if (string.IsNullOrEmpty(filter))
        {
            return "the topic filter is empty";
        }

        if (filter.Length > MaxTopicLength)
        {
            return $"the topic filter is {filter.Length} characters; the limit is {MaxTopicLength}";
        }

        if (filter[0] == '$')
        {
            return $"topic filters beginning with '$' are not served ('{filter}')";
        }

        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level.Length == 0)
            {
                return $"topic filter '{filter}' has an empty level; this broker routes only non-empty levels";
            }

            if (level == "#" && i != levels.Length - 1)
            {
                return $"topic filter '{filter}': '#' must be the last level";
            }

            if (level.Length > 1 && (level.Contains('+', StringComparison.Ordinal) || level.Contains('#', StringComparison.Ordinal)))
            {
                return $"topic filter '{filter}': '+' and '#' must be whole levels";
            }

            if (level == "*")
            {
                return $"topic filter '{filter}': a level may not be '*'";
            }
        }

        return filter.Contains('\0', StringComparison.Ordinal) ? "the topic filter has a NUL character" : null;
    }

    /// <summary>Whether MQTT filter <paramref name="filter"/> (valid) matches topic name <paramref name="topic"/>.</summary>
    public static bool Matches(string filter, string topic)
    {
        var f = 0;
        var t = 0;
        while (true)
        {
            var fEnd = filter.IndexOf('/', f);
            var fLevel = fEnd < 0 ? filter.AsSpan(f) : filter.AsSpan(f, fEnd - f);
            if (fLevel is "#")
            {
                return true;
            }

            if (t > topic.Length)
            {
                return false;
            }

            var tEnd = topic.IndexOf('/', t);
            var tLevel = tEnd < 0 ? topic.AsSpan(t) : topic.AsSpan(t, tEnd - t);
            if (fLevel is not "+" && !fLevel.SequenceEqual(tLevel))
            {
                return false;
            }

            if (fEnd < 0 || tEnd < 0)
            {
                // Both at their last level, or the filter's next level is '#' ("a/#" matches "a").
                return fEnd < 0 && tEnd < 0 || tEnd < 0 && filter.AsSpan(fEnd + 1) is "#";
            }

            f = fEnd + 1;
            t = tEnd + 1;
        }
    }

    /// <summary>
    /// The subscription (of the MQTT topic) that holds session <paramref name="clientId"/>'s messages: the client id itself
    /// when it is a valid subscription name of at most 64 characters, otherwise <c>x-</c> and 26 characters of its SHA-256.
    /// </summary>
    public static string SubscriptionName(string clientId)
    {
        if (clientId.Length <= 64 && clientId != TopicOptions.RetainedSubscription && !clientId.Contains('/', StringComparison.Ordinal)
            && !clientId.Contains(Identity.Tenants.Separator, StringComparison.Ordinal) && QueueName.Explain(clientId) is null
            && !clientId.StartsWith("x-", StringComparison.Ordinal))
        {
            return clientId;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(clientId));
        return "x-" + Convert.ToHexStringLower(hash)[..26];
    }

    /// <summary>The name a permission pattern is matched against: <c>&lt;broker topic&gt;/&lt;MQTT topic name or filter&gt;</c>.</summary>
    public static string PermissionName(string brokerTopic, string topicOrFilter) => string.Concat(brokerTopic, "/", topicOrFilter);

    private static string Swap(string text) => string.Create(text.Length, text, static (span, source) =>
    {
        for (var i = 0; i < source.Length; i++)
        {
            span[i] = source[i] switch
            {
                '/' => '.',
                '.' => '/',
                var c => c,
            };
        }
    });
}
