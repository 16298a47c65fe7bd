#include "server/http/openai_handlers.h"

#include <atomic>
#include <chrono>
#include <memory>

#include <spdlog/spdlog.h>

#include "engine/errors.h"
#include "server/api/api_error.h"
#include "server/api/openai_parse.h"
#include "server/http/connection_watch.h"
#include "server/http/openai_responses.h"
#include "server/http/tool_call_outputs.h"
#include "server/logging/log_setup.h"
#include "server/serving/choice_builder.h"
#include "server/serving/tool_grammar.h"

namespace kvs {
namespace {

using nlohmann::json;

// A handler's longest wait for tokens between checks. GenerationRun::poll
// waits on one choice, so with several the wait is short (the others' tokens
// wait meanwhile); a single choice's own events wake it at once, and the
// hang-up monitor cancels without it, so it waits longer (fewer wake-ups).
double poll_seconds(const GenerationRun& run) { return run.results().size() > 1 ? 0.05 : 0.25; }
// An SSE comment goes out when nothing else did for this long (a queued
// request), so proxies keep the stream open and a gone client shows.
constexpr auto kKeepAliveInterval = std::chrono::seconds(1);

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  const uint64_t now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%s-%llx%04llx", prefix, static_cast<unsigned long long>(now & 0xffffffffffULL),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xffff));
  return buffer;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void check_model(const ServingContext& context, const GenerationOptions& options) {
  if (!options.model.empty() && options.model != context.model_name) {
    throw ApiError(404, "The model '" + options.model + "' does not exist.", "model", "model_not_found");
  }
}

void check_content_type(const httplib::Request& req) {
  if (!req.has_header("Content-Type")) return;
  const std::string type = req.get_header_value("Content-Type");
  if (type.find("json") == std::string::npos) {
    throw ApiError(400, "Content-Type must be application/json, not '" + type + "'", "", "invalid_content_type");
  }
}

// Everything a handler needs to answer once the prompts are tokenized.
struct PreparedRun {
  std::unique_ptr<StreamSlot> stream_slot;  // held while an SSE response streams
  ResponseMeta meta;
  GenerationOptions options;
  std::vector<ChoiceSpec> choices;
  std::vector<std::string> prefixes;  // echo text per choice
  std::vector<std::vector<TokenLogprob>> prefix_tokens;  // echo + logprobs: the prompt's tokens per choice
  // echo + logprobs: the prompt to score for each choice ("" = none), scored
  // once admitted (score_echoed_prompts), with this many alternatives.
  std::vector<std::vector<int32_t>> echo_prompts;
  int64_t echo_top_logprobs = 0;
  int64_t prompt_tokens = 0;          // summed over distinct prompts
  std::string request_id;             // the response's X-Request-Id (errors and logs name it)
  // Chat with tools (tool_choice not "none"): the output is parsed into
  // content and tool_calls in this format (ToolCallOutputs).
  std::optional<ToolCallFormat> tool_format;
};

// echo + logprobs: the prompt tokens' logprobs become each choice's echoed
// prefix (the text is the tokens' bytes, so logprobs.tokens concatenate to
// it). One scoring run per distinct prompt; called once the request holds its
// admission slot, so scoring is bounded like generation. False when the
// client hung up meanwhile (`watch`: this connection's; the scoring stops at
// the engine's next step).
bool score_echoed_prompts(ServingContext& context, PreparedRun& prepared, const ConnectionWatch& watch) {
  for (size_t i = 0; i < prepared.echo_prompts.size(); ++i) {
    if (prepared.echo_prompts[i].empty()) continue;
    if (i > 0 && prepared.echo_prompts[i] == prepared.echo_prompts[i - 1]) {
      prepared.prefix_tokens[i] = prepared.prefix_tokens[i - 1];  // the n choices of one prompt
    } else {
      std::optional<std::vector<TokenLogprob>> scored =
          score_prompt(context.engine, *context.bundle.tokenizer, prepared.echo_prompts[i],
                       prepared.echo_top_logprobs, prepared.options.priority, [&watch] { return watch.hung_up(); });
      if (!scored) return false;
      prepared.prefix_tokens[i] = std::move(*scored);
    }
    prepared.prefixes[i].clear();
    for (const TokenLogprob& token : prepared.prefix_tokens[i]) prepared.prefixes[i] += token.text;
  }
  return true;
}

// Cancels `run`'s engine requests from the hang-up monitor's thread as soon
// as the client goes, so they stop at the engine's next step.
std::shared_ptr<ConnectionWatch> watch_client(ServingContext& context, const GenerationRun& run) {
  auto watch = std::make_shared<ConnectionWatch>();
  EngineClient& engine = context.engine;
  watch->watch([&engine, ids = run.request_ids()] {
    for (const uint64_t id : ids) engine.cancel(id);
  });
  return watch;
}

// A choice of `run` failed in the engine: logs why (the engine's text, never
// sent) and returns the 500 naming `request_id`.
ApiError generation_failed(const GenerationRun& run, const std::string& request_id) {
  for (const ChoiceResult& r : run.results()) {
    if (r.finish_reason == "error") spdlog::error("{}: generation failed: {}", request_id, r.error);
  }
  return internal_error(request_id);
}

void stream_response(ServingContext& context, std::shared_ptr<PreparedRun> prepared, httplib::Response& res) {
  auto slot = std::make_shared<AdmissionSlot>(context, static_cast<int64_t>(prepared->choices.size()));
  auto run = std::make_shared<GenerationRun>(context.engine, *context.bundle.tokenizer, context.metrics,
                                             std::move(prepared->choices));
  // NOTE: the provider runs on this handler's thread and is destroyed before
  // httplib closes the socket, so the watch it holds stays valid.
  auto watch = watch_client(context, *run);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [&context, slot, run, prepared, watch](size_t, httplib::DataSink& sink) {
    const ResponseMeta& meta = prepared->meta;
    const bool usage_field = prepared->options.include_usage;
    auto last_write = std::chrono::steady_clock::now();
    const auto write = [&sink, &last_write](const std::string& text) {
      last_write = std::chrono::steady_clock::now();
      return sink.write(text.data(), text.size());
    };
    const auto send = [&write](const json& chunk) { return write("data: " + dump(chunk) + "\n\n"); };
    try {
      if (!score_echoed_prompts(context, *prepared, *watch)) return false;  // the client went away
    } catch (const std::exception& e) {
      spdlog::error("{}: scoring the echoed prompt failed: {}", meta.id, e.what());
      return false;  // ends the stream; the run's destructor cancels the choices
    }
    // Where each choice's next text starts (logprobs.text_offset is cumulative).
    std::vector<size_t> offsets(prepared->prefixes.size(), 0);
    for (size_t i = 0; i < prepared->prefixes.size(); ++i) {
      if (meta.kind == ApiKind::kChat && !send(chat_role_chunk(meta, i, usage_field))) return false;
      if (!prepared->prefixes[i].empty()) {
        ChoiceDelta echo;
        echo.index = i;
        echo.text = prepared->prefixes[i];
        if (i < prepared->prefix_tokens.size()) echo.tokens = prepared->prefix_tokens[i];
        if (!send(stream_chunk(meta, echo, usage_field, 0))) return false;
        offsets[i] = echo.text.size();
      }
    }
    std::optional<ToolCallOutputs> tool_outputs;
    if (prepared->tool_format) tool_outputs.emplace(*prepared->tool_format, prepared->prefixes.size());
    std::vector<ChoiceDelta> deltas;
    while (run->poll(deltas, poll_seconds(*run))) {
      if (watch->hung_up()) {
        run->cancel();  // the client went away (the monitor cancelled already; this covers a missed socket)
        return false;
      }
      for (ChoiceDelta& delta : deltas) {
        if (delta.finish_reason == "error") {
          // The status line is gone: the failure becomes an error event, then the stream ends.
          run->cancel();
          const ApiError error = generation_failed(*run, prepared->request_id);
          send(error.to_json());
          const std::string done = "data: [DONE]\n\n";
          sink.write(done.data(), done.size());
          sink.done();
          return true;
        }
        if (tool_outputs) {
          const size_t text_bytes = delta.text.size();
          tool_outputs->apply(delta);
          // Text held back while it may begin a call: nothing to send yet.
          if (text_bytes > 0 && delta.text.empty() && delta.tool_calls.empty() && delta.finish_reason.empty() &&
              delta.tokens.empty()) {
            continue;
          }
        }
        if (!send(stream_chunk(meta, delta, usage_field, offsets[delta.index]))) {
          run->cancel();  // the client went away: free its blocks now
          return false;
        }
        for (const TokenLogprob& token : delta.tokens) offsets[delta.index] += token.text.size();
      }
      if (deltas.empty() && std::chrono::steady_clock::now() - last_write >= kKeepAliveInterval &&
          !write(": keep-alive\n\n")) {
        run->cancel();
        return false;
      }
      deltas.clear();
    }
    if (usage_field) {
      int64_t completion_tokens = 0;
      for (const ChoiceResult& r : run->results()) completion_tokens += r.num_output_tokens;
      if (!send(usage_chunk(meta, prepared->prompt_tokens, completion_tokens, cached_prompt_tokens(run->results())))) {
        return false;
      }
    }
    write("data: [DONE]\n\n");
    sink.done();
    return true;
  });
}

void respond(ServingContext& context, std::shared_ptr<PreparedRun> prepared, httplib::Response& res) {
  if (prepared->options.stream) return stream_response(context, std::move(prepared), res);
  AdmissionSlot slot(context, static_cast<int64_t>(prepared->choices.size()));
  {
    const ConnectionWatch scoring_watch;  // gone before the run's own watch takes the socket
    if (!score_echoed_prompts(context, *prepared, scoring_watch)) {
      throw ApiError(499, "the client closed the connection before the response", "", "client_closed_request");
    }
  }
  GenerationRun run(context.engine, *context.bundle.tokenizer, context.metrics, std::move(prepared->choices));
  const auto watch = watch_client(context, run);
  std::vector<ChoiceDelta> deltas;
  while (run.poll(deltas, poll_seconds(run))) deltas.clear();
  if (watch->hung_up()) {
    throw ApiError(499, "the client closed the connection before the response", "", "client_closed_request");
  }
  std::vector<ChoiceResult> results = run.results();
  for (const ChoiceResult& r : results) {
    if (r.finish_reason == "error") throw generation_failed(run, prepared->request_id);
  }
  if (prepared->tool_format) parse_tool_call_results(*prepared->tool_format, results);
  res.set_content(dump(full_response(prepared->meta, results, prepared->prefixes, prepared->prefix_tokens,
                                     prepared->prompt_tokens)),
                  "application/json");
}

// The server's limits, then (for a stream) one of the key's stream slots,
// before any tokenizing: the slot lives as long as `prepared`, which the SSE
// provider holds, so it is given back when the stream ends, fails or the
// client goes away.
void admit(ServingContext& context, const httplib::Request& req, const GenerationOptions& options,
           PreparedRun& prepared) {
  check_model(context, options);
  check_request_limits(context.limits, options);
  if (!options.stream) return;
  // The pre-routing handler already accepted the key; without keys all share bucket 0.
  const size_t bucket = context.keys.find_authorization(req.get_header_value("Authorization")).value_or(0);
  prepared.stream_slot = std::make_unique<StreamSlot>(context.streams, bucket, context.limits.max_streams_per_key);
}

// Runs `body` mapping the engine's InvalidArgument to a 400.
template <typename Body>
void with_engine_errors(Body&& body) {
  try {
    body();
  } catch (const InvalidArgument& e) {
    throw ApiError(400, e.what());
  }
}

}  // namespace

void handle_completions(ServingContext& context, const httplib::Request& req, httplib::Response& res) {
  const RequestLogScope log_scope(res.get_header_value("X-Request-Id"));
  check_content_type(req);
  CompletionRequest request = parse_completion_request(req.body);
  auto prepared = std::make_shared<PreparedRun>();
  prepared->request_id = res.get_header_value("X-Request-Id");
  admit(context, req, request.options, *prepared);  // n alone first: its error names "n"
  check_choice_count(context.limits, static_cast<int64_t>(request.prompts.size()), request.options.n);
  prepared->meta = {ApiKind::kCompletion, new_id("cmpl"), unix_now(), context.model_name, request.options.logprobs,
                    request.options.top_logprobs};
  prepared->options = request.options;
  with_engine_errors([&] {
    const auto grammar = request_grammar(context, request.options);  // one for every prompt and choice
    for (const PromptInput& prompt : request.prompts) {
      const std::vector<int32_t> ids = prompt.is_tokens ? prompt.token_ids : context.bundle.encode_prompt(prompt.text);
      add_choices(context, request.options, ids, prepared->choices, grammar);
      prepared->prompt_tokens += static_cast<int64_t>(ids.size());
      std::string echo;
      if (request.echo) echo = prompt.is_tokens ? context.bundle.tokenizer->decode(ids, true) : prompt.text;
      const bool score = request.echo && request.options.logprobs;  // scored once admitted
      for (int64_t j = 0; j < request.options.n; ++j) {
        prepared->prefixes.push_back(echo);
        prepared->prefix_tokens.emplace_back();
        prepared->echo_prompts.push_back(score ? ids : std::vector<int32_t>{});
      }
      prepared->echo_top_logprobs = request.options.top_logprobs;
    }
    respond(context, prepared, res);
  });
}

void handle_chat_completions(ServingContext& context, const httplib::Request& req, httplib::Response& res) {
  const RequestLogScope log_scope(res.get_header_value("X-Request-Id"));
  check_content_type(req);
  ChatRequest request = parse_chat_request(req.body);
  auto prepared = std::make_shared<PreparedRun>();
  prepared->request_id = res.get_header_value("X-Request-Id");
  admit(context, req, request.options, *prepared);
  prepared->meta = {ApiKind::kChat, new_id("chatcmpl"), unix_now(), context.model_name, request.options.logprobs,
                    request.options.top_logprobs};
  prepared->options = request.options;
  with_engine_errors([&] {
    if (!context.chat) throw ApiError(400, "this model has no usable chat template: " + context.chat_error, "messages");
    // NOTE: tool_choice "none" renders no tools (the model is not told about
    // any) and parses no calls: the reply is plain text.
    const bool use_tools = !request.tools.empty() && request.tool_choice.mode != ToolChoice::Mode::kNone;
    if (use_tools) {
      prepared->tool_format = tool_call_format(*context.chat);
      if (!prepared->tool_format) {
        throw ApiError(400, "this model's chat template ('" + context.chat->style() + "') has no tool calling", "tools");
      }
    }
    const std::vector<int32_t> ids = context.bundle.encode_chat(*context.chat, request.messages, true,
                                                                use_tools ? request.tools : std::vector<ToolDefinition>{});
    const auto grammar = use_tools && request.tool_choice.mode != ToolChoice::Mode::kAuto
                             ? forced_tool_grammar(context, *prepared->tool_format, request.tools, request.tool_choice,
                                                   request.parallel_tool_calls)
                             : request_grammar(context, request.options);
    add_choices(context, request.options, ids, prepared->choices, grammar);
    prepared->prompt_tokens = static_cast<int64_t>(ids.size());
    prepared->prefixes.assign(static_cast<size_t>(request.options.n), "");
    respond(context, prepared, res);
  });
}

}  // namespace kvs
