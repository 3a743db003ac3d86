using System.Text;
using System.Text.Json.Nodes;
using OrleansBroker.Messages;
using OrleansBroker.Server.Topics.Transforms;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>The built-in transforms on single messages: logic only (the topic tests run them through a broker).</summary>
public sealed class TransformTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static TransformContext Context(params (string Key, string Value)[] settings) =>
        new("orders", "sub", settings.ToDictionary(s => s.Key, s => s.Value), Now);

    private static BrokerMessage Json(string json, Dictionary<string, string>? headers = null) =>
        new("m-1", Encoding.UTF8.GetBytes(json), "application/json", headers, "orders.created");

    private static JsonObject Body(BrokerMessage message) => (JsonObject)JsonNode.Parse(message.Body)!;

    [Fact]
    public void CloudEvents_wrap_structured_then_unwrap_gives_back_the_data_with_the_attributes_as_headers()
    {
        var wrapped = new CloudEventsWrapTransform().Apply(Json("""{"id":7}"""), Context(("source", "/shop")));
        Assert.Equal("application/cloudevents+json", wrapped.ContentType);
        var envelope = Body(wrapped);
        Assert.Equal("1.0", envelope["specversion"]!.GetValue<string>());
        Assert.Equal("m-1", envelope["id"]!.GetValue<string>());
        Assert.Equal("orders.created", envelope["type"]!.GetValue<string>());
        Assert.Equal("/shop", envelope["source"]!.GetValue<string>());
        Assert.Equal(7, envelope["data"]!["id"]!.GetValue<int>());

        var unwrapped = new CloudEventsUnwrapTransform().Apply(wrapped, Context());
        Assert.Equal("application/json", unwrapped.ContentType);
        Assert.Equal(7, Body(unwrapped)["id"]!.GetValue<int>());
        Assert.Equal("orders.created", unwrapped.Headers!["ce-type"]);
        Assert.Equal("m-1", unwrapped.Headers["ce-id"]);
    }

    [Fact]
    public void CloudEvents_wrap_binary_keeps_the_body_and_adds_ce_headers_and_binary_data_travels_as_base64()
    {
        var binary = new CloudEventsWrapTransform().Apply(Json("""{"id":7}"""), Context(("mode", "binary"), ("type", "shop.order")));
        Assert.Equal("""{"id":7}""", Encoding.UTF8.GetString(binary.Body));
        Assert.Equal("shop.order", binary.Headers!["ce-type"]);
        Assert.Equal("1.0", binary.Headers["ce-specversion"]);

        var bytes = new BrokerMessage("b", [0, 1, 255], "application/octet-stream");
        var wrapped = new CloudEventsWrapTransform().Apply(bytes, Context());
        Assert.Equal("AAH/", Body(wrapped)["data_base64"]!.GetValue<string>());
        Assert.Equal([0, 1, 255], new CloudEventsUnwrapTransform().Apply(wrapped, Context()).Body);
    }

    [Fact]
    public void CloudEvents_unwrap_refuses_what_is_not_a_CloudEvent()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new CloudEventsUnwrapTransform().Apply(Json("""{"id":7}"""), Context()));
        Assert.Contains("not a CloudEvent", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => new CloudEventsUnwrapTransform().Apply(new BrokerMessage("x", Encoding.UTF8.GetBytes("{oops")), Context()));
    }

    [Fact]
    public void Json_projection_keeps_drops_and_renames_top_level_fields()
    {
        var message = Json("""{"id":1,"customer":"c-9","card":"4111","total":12.5}""");
        var kept = Body(new JsonProjectTransform().Apply(message, Context(("keep", "id,total"), ("rename", "total:amount"))));
        Assert.Equal(["id", "amount"], kept.Select(p => p.Key));
        Assert.Equal(12.5, kept["amount"]!.GetValue<double>());

        var dropped = Body(new JsonProjectTransform().Apply(message, Context(("drop", "card"))));
        Assert.Equal(["id", "customer", "total"], dropped.Select(p => p.Key));
        Assert.Throws<InvalidOperationException>(() => new JsonProjectTransform().Apply(Json("[1,2]"), Context(("drop", "x"))));
        Assert.Throws<ArgumentException>(() => new JsonProjectTransform().Validate(new Dictionary<string, string> { ["keeep"] = "id" }));
    }

    [Fact]
    public void Header_enrichment_copies_named_headers_into_the_body()
    {
        var message = Json("""{"id":1}""", new Dictionary<string, string> { ["tenant"] = "acme", ["region"] = "eu" });
        var body = Body(new HeaderEnrichTransform().Apply(message, Context(("headers", "tenant,region:area,missing"))));
        Assert.Equal("acme", body["tenant"]!.GetValue<string>());
        Assert.Equal("eu", body["area"]!.GetValue<string>());
        Assert.False(body.ContainsKey("missing"));
    }

    [Fact]
    public void Content_type_conversion_is_lossless_or_fails()
    {
        var text = new BrokerMessage("t", Encoding.UTF8.GetBytes("héllo \"world\""), "text/plain");
        var json = new ContentTypeTransform().Apply(text, Context(("to", "application/json")));
        Assert.Equal("application/json", json.ContentType);
        var back = new ContentTypeTransform().Apply(json, Context(("to", "text/plain")));
        Assert.Equal(text.Body, back.Body);

        var error = Assert.Throws<InvalidOperationException>(() => new ContentTypeTransform().Apply(Json("""{"a":1}"""), Context(("to", "text/plain"))));
        Assert.Contains("without loss", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ContentTypeTransform().Validate(new Dictionary<string, string> { ["to"] = "image/png" }));
    }
}
