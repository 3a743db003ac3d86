using System.Net;
using System.Text;
using System.Text.Json;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Push;

/// <summary>Push delivery from a silo-host process to a Kestrel webhook receiver, over real sockets.</summary>
public sealed class PushTests(PushSilo broker) : IClassFixture<PushSilo>
{
    [Fact]
    public async Task A_thousand_messages_each_arrive_once_signed_after_the_endpoint_confirmed_and_info_hides_the_secret()
    {
        var hook = broker.Receiver.Add();
        var queue = await broker.CreateQueueAsync(hook);
        for (var batch = 0; batch < 10; batch++)
        {
            await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(batch * 100, 100).Select(i => new BrokerMessage($"m{i}", Encoding.UTF8.GetBytes($"body {i}"), "text/plain",
                new Dictionary<string, string> { ["tenant"] = "eu" }, RoutingKey: "orders.created"))]);
        }

        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 1000 }, "all acked");
        var acked = hook.Acked();
        Assert.Equal(1000, acked.Count);
        Assert.All(acked.Values, n => Assert.Equal(1, n));
        Assert.Equal(1000, hook.Messages.Count);
        Assert.NotEmpty(hook.Validations);
        Assert.True(hook.Validations.First().At <= hook.Messages.Min(m => m.At), "validated before the first message");
        Assert.All(hook.Messages.Concat(hook.Validations), m => Assert.True(m.SignedWith(PushSilo.Secret), "signed"));
        Assert.All(hook.Messages, m => Assert.False(m.SignedWith("another-secret-of-enough-length")));
        var first = hook.Messages.First(m => m.Header("Broker-Message-Id") == "m7");
        Assert.Equal("body 7", Encoding.UTF8.GetString(first.Body));
        Assert.Equal("text/plain", first.Header("Content-Type"));
        Assert.Equal("eu", first.Header("Broker-Header-tenant"));
        Assert.Equal("orders.created", first.Header("Broker-Routing-Key"));
        Assert.Equal(queue, first.Header("Broker-Queue"));
        Assert.Equal("Bearer hook-token", first.Header("Authorization"));
        Assert.Equal(1, first.Attempt);

        var info = await broker.Dotnet.Admin.GetQueueInfoAsync(queue);
        Assert.Equal("active", info.Push!.State);
        Assert.Equal(1000, info.Push.Pushed);
        Assert.Equal(["(hidden)"], info.Options.Push!.Secrets);
        var json = await broker.Http.GetStringAsync($"/api/queues/{queue}");
        Assert.DoesNotContain(PushSilo.Secret, json, StringComparison.Ordinal);
        Assert.Contains("\"state\":\"active\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_receiver_failing_every_other_request_gets_every_message_with_the_attempt_numbers_it_should()
    {
        var hook = broker.Receiver.Add(n => (n % 2 == 1 ? 500 : 200, null));
        var queue = await broker.CreateQueueAsync(hook, new QueueOptions { MaxDeliveryAttempts = 20 });
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(0, 100).Select(i => new BrokerMessage($"m{i}", "x"u8.ToArray()))]);

        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 100 }, "all acked");
        Assert.Equal(100, hook.Acked().Count);
        foreach (var message in hook.Messages.GroupBy(m => m.Header("Broker-Message-Id")))
        {
            // Each message came back after each failure with its next attempt number, and was acked on its last.
            var attempts = message.Select(m => m.Attempt).Order().ToList();
            Assert.Equal(Enumerable.Range(1, attempts.Count), attempts);
            Assert.Equal(1, message.Count(m => m.Status == 200));
            Assert.Equal(200, message.MaxBy(m => m.Attempt)!.Status);
        }

        Assert.Equal(0, (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)).Counters.DeadLettered);
    }

    [Fact]
    public async Task A_receiver_that_is_down_gets_each_message_max_attempts_times_then_it_is_dead_lettered_with_the_status()
    {
        var hook = broker.Receiver.Add(_ => (503, null));
        var queue = await broker.CreateQueueAsync(hook, new QueueOptions { MaxDeliveryAttempts = 3 });
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(0, 5).Select(i => new BrokerMessage($"m{i}", "x"u8.ToArray()))]);

        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.DeadLettered: 5 }, "all dead-lettered");
        var dead = await broker.Dotnet.Broker.PeekAsync(QueueName.DefaultDeadLetterQueue(queue));
        Assert.Equal(5, dead.Count);
        Assert.All(dead, d => Assert.Equal("HTTP 503", d.Headers![BrokerHeaders.DeadLetterReason]));
        Assert.Equal(15, hook.Messages.Count);
        Assert.All(hook.Messages.GroupBy(m => m.Header("Broker-Message-Id")), g => Assert.Equal([1, 2, 3], g.Select(m => m.Attempt).Order()));
        var info = await broker.Dotnet.Admin.GetQueueInfoAsync(queue);
        Assert.Equal("HTTP 503", info.Push!.LastError);
        Assert.Equal(15, info.Push.Failed);
        Assert.Equal("circuit open", info.Push.State); // Failing ever since its fifth request: paused, then probed one at a time.
        Assert.Equal(1, info.Push.Concurrency);
    }

    [Fact]
    public async Task A_retry_after_in_the_answer_is_waited_for_and_two_secrets_both_sign()
    {
        var hook = broker.Receiver.Add(n => n == 0 ? (503, "2") : (200, null));
        var queue = $"push-{Guid.NewGuid():N}"[..20];
        const string next = "the-next-secret-while-rotating";
        await broker.Dotnet.Admin.CreateQueueAsync(queue, new QueueOptions { Push = PushSilo.Endpoint(hook) with { Secrets = [PushSilo.Secret, next] } });
        await broker.Dotnet.Broker.PublishAsync(queue, new BrokerMessage("later", "x"u8.ToArray()));

        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 1 }, "acked");
        var requests = hook.Messages.OrderBy(m => m.At).ToList();
        Assert.Equal([503, 200], requests.Select(r => r.Status));
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(1.9), $"came back after {requests[1].At - requests[0].At}");
        Assert.All(requests, r => Assert.True(r.SignedWith(PushSilo.Secret) && r.SignedWith(next), "signed with both secrets while rotating"));
    }

    [Fact]
    public async Task An_endpoint_that_does_not_confirm_receives_nothing_and_info_says_it_waits()
    {
        var hook = broker.Receiver.Add(confirm: false);
        var queue = await broker.CreateQueueAsync(hook);
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(0, 3).Select(i => new BrokerMessage($"m{i}", "x"u8.ToArray()))]);

        await Eventually.HoldsAsync(() => hook.Validations.Count >= 2, "asked twice");
        var info = await broker.Dotnet.Admin.GetQueueInfoAsync(queue);
        Assert.Equal("validating", info.Push!.State);
        Assert.Contains("without the token", info.Push.LastError, StringComparison.Ordinal);
        Assert.Empty(hook.Messages);
        Assert.Equal(3, info.Ready);
        Assert.Equal(0, info.InFlight);
    }

    [Fact]
    public async Task CloudEvents_binary_and_structured_requests_and_a_topic_subscription_that_pushes()
    {
        var binary = broker.Receiver.Add();
        var structured = broker.Receiver.Add();
        var topic = $"push-t-{Guid.NewGuid():N}"[..20];
        await broker.Dotnet.Admin.CreateTopicAsync(topic);
        await broker.Dotnet.Admin.CreateSubscriptionAsync(topic, new Subscription("binary", SubscriptionFilter.All, new QueueOptions { Push = PushSilo.Endpoint(binary, PushPayload.CloudEventsBinary) }));
        await broker.Dotnet.Admin.CreateSubscriptionAsync(topic, new Subscription("structured", SubscriptionFilter.All, new QueueOptions { Push = PushSilo.Endpoint(structured, PushPayload.CloudEventsStructured) }));
        await broker.Dotnet.Broker.PublishToTopicAsync(topic, new BrokerMessage("e1", """{"total":12}"""u8.ToArray(), "application/json", RoutingKey: "orders.created"));

        await Eventually.HoldsAsync(() => binary.Acked().Count == 1 && structured.Acked().Count == 1, "both pushed");
        var b = binary.Messages.Single();
        Assert.Equal("1.0", b.Header("ce-specversion"));
        Assert.Equal("e1", b.Header("ce-id"));
        Assert.Equal("orders.created", b.Header("ce-type"));
        Assert.Equal("application/json", b.Header("Content-Type"));
        Assert.Equal("""{"total":12}""", Encoding.UTF8.GetString(b.Body));
        var s = structured.Messages.Single();
        Assert.StartsWith("application/cloudevents+json", s.Header("Content-Type"), StringComparison.Ordinal);
        using var document = JsonDocument.Parse(s.Body);
        Assert.Equal("e1", document.RootElement.GetProperty("id").GetString());
        Assert.Equal(12, document.RootElement.GetProperty("data").GetProperty("total").GetInt32());
        Assert.True(s.SignedWith(PushSilo.Secret));
        var topicInfo = await broker.Http.GetStringAsync($"/api/topics/{topic}");
        Assert.DoesNotContain(PushSilo.Secret, topicInfo, StringComparison.Ordinal);
        Assert.All((await broker.Dotnet.Admin.GetTopicInfoAsync(topic)).Subscriptions, s => Assert.Equal(["(hidden)"], s.Queue.Push!.Secrets));
    }

    [Fact]
    public async Task Hosts_not_allowed_and_endpoints_without_a_secret_are_refused_with_a_clear_error_over_dotnet_and_http()
    {
        var refused = await Assert.ThrowsAsync<BrokerException>(() => broker.Dotnet.Admin.CreateQueueAsync("push-internal",
            new QueueOptions { Push = new PushEndpoint { Url = "http://10.1.2.3/hook", Secrets = [PushSilo.Secret] } }));
        Assert.Equal(BrokerErrorCode.InvalidOptions, refused.Code);
        Assert.Contains("Broker:Push:AllowedHosts", refused.Message, StringComparison.Ordinal);

        var response = await broker.Http.PutAsync("/api/queues/push-no-secret", new StringContent("""{"push":{"url":"http://127.0.0.1:9/hook"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("secrets", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var notUrl = await broker.Http.PutAsync("/api/queues/push-not-a-url", new StringContent("""{"push":{"url":"not a url","secrets":["0123456789abcdef"]}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notUrl.StatusCode);
        Assert.Contains("not an absolute http or https URL", await notUrl.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var created = await broker.Http.PutAsync("/api/queues/push-over-http", new StringContent(
            $$$"""{"push":{"url":"{{{broker.Receiver.Add().Url}}}","secrets":["{{{PushSilo.Secret}}}"],"payload":"cloud-events-binary","timeout":"00:00:05","maxConcurrency":8}}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var info = await broker.Dotnet.Admin.GetQueueInfoAsync("push-over-http");
        Assert.Equal(PushPayload.CloudEventsBinary, info.Options.Push!.Payload);
        Assert.Equal(8, info.Options.Push.MaxConcurrency);
        await broker.Dotnet.Admin.DeleteQueueAsync("push-over-http");
    }

    [Fact]
    public async Task Obroker_creates_a_pushing_queue_prints_the_secret_it_made_once_and_shows_the_push_state()
    {
        var hook = broker.Receiver.Add();
        var queue = $"push-cli-{Guid.NewGuid():N}"[..20];
        var create = await broker.Cli.RunAsync("queue", "create", queue, "--push-url", hook.Url, "--push-header", "X-Token=t1", "--push-payload", "cloud-events-binary");
        Assert.True(create.ExitCode == 0, create.Out + create.Err);
        var secret = System.Text.RegularExpressions.Regex.Match(create.Err, "push secret .*: ([0-9a-f]{64})").Groups[1].Value;
        Assert.Equal(64, secret.Length);
        Assert.DoesNotContain(secret, create.Out, StringComparison.Ordinal);
        await broker.Dotnet.Broker.PublishAsync(queue, new BrokerMessage("cli-1", "x"u8.ToArray()));

        await Eventually.HoldsAsync(() => hook.Acked().Count == 1, "pushed");
        var pushed = hook.Messages.Single();
        Assert.True(pushed.SignedWith(secret));
        Assert.Equal("t1", pushed.Header("X-Token"));
        Assert.Equal("cli-1", pushed.Header("ce-id"));
        var info = await broker.Cli.RunAsync("queue", "info", queue);
        Assert.Contains("push state:     active", info.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, info.Out, StringComparison.Ordinal);

        var topicHook = broker.Receiver.Add();
        await broker.Cli.OkAsync("topic", "create", queue + "-t");
        await broker.Cli.OkAsync("topic", "subscribe", queue + "-t", "hooked", "--key", "orders.#", "--push-url", topicHook.Url, "--push-secret", "0123456789abcdef");
        await broker.Dotnet.Broker.PublishToTopicAsync(queue + "-t", new BrokerMessage("cli-2", "x"u8.ToArray(), RoutingKey: "orders.created"));
        await Eventually.HoldsAsync(() => topicHook.Acked().ContainsKey("cli-2"), "pushed from the subscription");
        Assert.True(topicHook.Messages.Single().SignedWith("0123456789abcdef"));

        var orphan = await broker.Cli.RunAsync("queue", "create", queue + "x", "--push-secret", "0123456789abcdef");
        Assert.Equal(2, orphan.ExitCode);
        Assert.Contains("need --push-url", orphan.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Obroker_bench_push_measures_a_run_against_its_own_receiver_and_deletes_its_queue()
    {
        var bench = await broker.Cli.RunAsync("bench", "push", "--messages", "2000", "--warmup", "0", "--concurrency", "16");
        Assert.True(bench.ExitCode == 0, bench.Out + bench.Err);
        using var result = JsonDocument.Parse(bench.Out.Trim().Split('\n')[^1]);
        Assert.Equal("push", result.RootElement.GetProperty("scenario").GetString());
        Assert.Equal(0, result.RootElement.GetProperty("lost").GetInt64());
        Assert.True(result.RootElement.GetProperty("throughput_msgs_per_s").GetDouble() > 0);
        Assert.DoesNotContain(await broker.Dotnet.Admin.ListQueuesAsync(), q => q.StartsWith("bench-push-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_secret_is_rotated_in_place_and_pushing_stops_and_starts_again_keeping_every_message()
    {
        const string next = "the-secret-after-rotation";
        var hook = broker.Receiver.Add();
        var queue = await broker.CreateQueueAsync(hook);
        async Task<PushReceiver.Request> PushedAsync(string id)
        {
            await broker.Dotnet.Broker.PublishAsync(queue, new BrokerMessage(id, "x"u8.ToArray()));
            await Eventually.HoldsAsync(() => hook.Acked().ContainsKey(id), $"{id} pushed");
            return hook.Messages.Single(m => m.Header("Broker-Message-Id") == id);
        }

        var first = await PushedAsync("r1");
        Assert.True(first.SignedWith(PushSilo.Secret) && !first.SignedWith(next));

        // Both secrets, over HTTP: the receiver moves over while both sign.
        var both = await broker.Http.PutAsync($"/api/queues/{queue}/push", new StringContent(
            $$$"""{"url":"{{{hook.Url}}}","secrets":["{{{PushSilo.Secret}}}","{{{next}}}"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, both.StatusCode);
        var second = await PushedAsync("r2");
        Assert.True(second.SignedWith(PushSilo.Secret) && second.SignedWith(next));

        // The new one alone, with obroker.
        await broker.Cli.OkAsync("queue", "push", queue, "--push-url", hook.Url, "--push-secret", next);
        var third = await PushedAsync("r3");
        Assert.True(third.SignedWith(next) && !third.SignedWith(PushSilo.Secret));

        // Off: the messages stay for consumers; on again: they are pushed.
        await broker.Cli.OkAsync("queue", "push", queue, "--off");
        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Consumers: 0, Push: null, Options.Push: null }, "pushing stopped");
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [new BrokerMessage("r4", "x"u8.ToArray()), new BrokerMessage("r5", "x"u8.ToArray())]);
        Assert.Equal(2, (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)).Ready);
        Assert.Equal(3, hook.Messages.Count);
        await broker.Dotnet.Admin.SetQueuePushAsync(queue, PushSilo.Endpoint(hook) with { Secrets = [next] });
        await Eventually.HoldsAsync(() => hook.Acked().ContainsKey("r4") && hook.Acked().ContainsKey("r5"), "pushed again");
        Assert.Equal(5, (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)).Counters.Acked);
    }

    [Fact]
    public async Task A_subscription_changes_its_push_endpoint_through_its_topic_and_not_through_its_queue()
    {
        var before = broker.Receiver.Add();
        var after = broker.Receiver.Add();
        var topic = $"push-r-{Guid.NewGuid():N}"[..20];
        await broker.Dotnet.Admin.CreateTopicAsync(topic);
        await broker.Dotnet.Admin.CreateSubscriptionAsync(topic, new Subscription("hooked", SubscriptionFilter.All, new QueueOptions { Push = PushSilo.Endpoint(before) }));
        await broker.Dotnet.Broker.PublishToTopicAsync(topic, new BrokerMessage("s1", "x"u8.ToArray()));
        await Eventually.HoldsAsync(() => before.Acked().ContainsKey("s1"), "pushed before");

        var refused = await Assert.ThrowsAsync<BrokerException>(() => broker.Dotnet.Admin.SetQueuePushAsync($"{topic}/hooked", PushSilo.Endpoint(after)));
        Assert.Contains($"through topic '{topic}'", refused.Message, StringComparison.Ordinal);

        var changed = await broker.Http.PutAsync($"/api/topics/{topic}/subscriptions/hooked/push", new StringContent(
            $$$"""{"url":"{{{after.Url}}}","secrets":["{{{PushSilo.Secret}}}"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        await broker.Dotnet.Broker.PublishToTopicAsync(topic, new BrokerMessage("s2", "x"u8.ToArray()));
        await Eventually.HoldsAsync(() => after.Acked().ContainsKey("s2"), "pushed after");
        Assert.False(before.Acked().ContainsKey("s2"));
        var subscription = Assert.Single((await broker.Dotnet.Admin.GetTopicInfoAsync(topic)).Subscriptions);
        Assert.Equal(after.Url, subscription.Queue.Push!.Url);
        Assert.Equal(after.Url, (await broker.Dotnet.Admin.GetQueueInfoAsync($"{topic}/hooked")).Options.Push!.Url);

        var bad = await broker.Http.PutAsync($"/api/topics/{topic}/subscriptions/hooked/push", new StringContent(
            """{"url":"http://10.9.9.9/in","secrets":["0123456789abcdef"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(after.Url, Assert.Single((await broker.Dotnet.Admin.GetTopicInfoAsync(topic)).Subscriptions).Queue.Push!.Url);
    }

    [Fact]
    public async Task A_partitioned_queue_pushes_from_every_partition_and_changes_its_endpoint_on_all_of_them()
    {
        var hook = broker.Receiver.Add();
        var queue = await broker.CreateQueueAsync(hook, new QueueOptions { Partitions = 3 });
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(0, 30).Select(i => new BrokerMessage($"p{i}", "x"u8.ToArray(), OrderingKey: $"key-{i}"))]);
        await Eventually.HoldsAsync(() => hook.Acked().Count == 30, "all 30 pushed");
        var info = await broker.Dotnet.Admin.GetQueueInfoAsync(queue);
        Assert.Equal(3, info.Partitions!.Count);
        Assert.True(info.Partitions.Count(p => p.Ready + p.InFlight == 0) == 3 && info.Counters.Acked == 30, "every partition emptied");

        var moved = broker.Receiver.Add();
        await broker.Dotnet.Admin.SetQueuePushAsync(queue, PushSilo.Endpoint(moved));
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(30, 30).Select(i => new BrokerMessage($"p{i}", "x"u8.ToArray(), OrderingKey: $"key-{i}"))]);
        await Eventually.HoldsAsync(() => moved.Acked().Count == 30, "the next 30 pushed to the new endpoint");
        Assert.Equal(30, hook.Acked().Count);
        await broker.Dotnet.Admin.DeleteQueueAsync(queue);
    }
}
