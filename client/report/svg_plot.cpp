// Hand-written SVG: axes with round ticks, one polyline per series, a legend.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "client/report/report.h"

namespace kvs::client {
namespace {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
  bool markers = false;
};

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string fmt(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

std::string tick_label(double v) {
  char buffer[32];
  if (std::fabs(v) >= 1000 || v == std::floor(v)) std::snprintf(buffer, sizeof buffer, "%.0f", v);
  else std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

// A round step giving about `target` ticks over [0, max].
double nice_step(double max, int target) {
  if (!(max > 0)) return 1;
  const double raw = max / target;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

void panel(std::ostringstream& svg, double x0, double y0, double w, double h, const std::string& title,
           const std::string& x_label, const std::string& y_label, const std::vector<Series>& series, double y_max_fixed) {
  const double left = x0 + 60, right = x0 + w - 15, top = y0 + 30, bottom = y0 + h - 45;
  double x_max = 0, y_max = y_max_fixed;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      x_max = std::max(x_max, x);
      if (y_max_fixed <= 0) y_max = std::max(y_max, y);
    }
  }
  const double x_step = nice_step(x_max * 1.02, 5), y_step = nice_step(y_max * 1.02, 5);
  const double x_top = std::max(x_step, std::ceil(x_max * 1.02 / x_step) * x_step);
  const double y_top = y_max_fixed > 0 ? y_max_fixed : std::max(y_step, std::ceil(y_max * 1.02 / y_step) * y_step);
  const auto px = [&](double x) { return left + (right - left) * x / x_top; };
  const auto py = [&](double y) { return bottom - (bottom - top) * y / y_top; };
  svg << "<text x=\"" << fmt(x0 + w / 2) << "\" y=\"" << fmt(y0 + 18)
      << "\" text-anchor=\"middle\" font-weight=\"bold\">" << escape(title) << "</text>\n";
  for (double t = 0; t <= x_top * 1.0001; t += x_step) {
    svg << "<line x1=\"" << fmt(px(t)) << "\" y1=\"" << fmt(top) << "\" x2=\"" << fmt(px(t)) << "\" y2=\""
        << fmt(bottom) << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << fmt(px(t)) << "\" y=\"" << fmt(bottom + 15)
        << "\" text-anchor=\"middle\" font-size=\"10\">" << tick_label(t) << "</text>\n";
  }
  for (double t = 0; t <= y_top * 1.0001; t += (y_max_fixed > 0 ? 0.25 : y_step)) {
    svg << "<line x1=\"" << fmt(left) << "\" y1=\"" << fmt(py(t)) << "\" x2=\"" << fmt(right) << "\" y2=\""
        << fmt(py(t)) << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << fmt(left - 5) << "\" y=\"" << fmt(py(t) + 3)
        << "\" text-anchor=\"end\" font-size=\"10\">" << tick_label(t) << "</text>\n";
  }
  svg << "<rect x=\"" << fmt(left) << "\" y=\"" << fmt(top) << "\" width=\"" << fmt(right - left) << "\" height=\""
      << fmt(bottom - top) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg << "<text x=\"" << fmt((left + right) / 2) << "\" y=\"" << fmt(bottom + 32)
      << "\" text-anchor=\"middle\" font-size=\"11\">" << escape(x_label) << "</text>\n";
  svg << "<text x=\"" << fmt(x0 + 14) << "\" y=\"" << fmt((top + bottom) / 2) << "\" text-anchor=\"middle\" "
      << "font-size=\"11\" transform=\"rotate(-90 " << fmt(x0 + 14) << " " << fmt((top + bottom) / 2) << ")\">"
      << escape(y_label) << "</text>\n";
  if (series.empty() || std::all_of(series.begin(), series.end(), [](const Series& s) { return s.points.empty(); })) {
    svg << "<text x=\"" << fmt((left + right) / 2) << "\" y=\"" << fmt((top + bottom) / 2)
        << "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n";
    return;
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const char* color = kColors[i % (sizeof kColors / sizeof kColors[0])];
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (const auto& [x, y] : s.points) svg << fmt(px(x)) << "," << fmt(py(y)) << " ";
    svg << "\"/>\n";
    if (s.markers) {
      for (const auto& [x, y] : s.points) {
        svg << "<circle cx=\"" << fmt(px(x)) << "\" cy=\"" << fmt(py(y)) << "\" r=\"3\" fill=\"" << color << "\"/>\n";
      }
    }
    // NOTE: CDFs leave the bottom right empty; throughput curves the top left.
    const double lx = y_max_fixed > 0 ? right - 170 : left + 10;
    const double ly = y_max_fixed > 0 ? bottom - 8 - 14 * static_cast<double>(series.size() - 1 - i)
                                      : top + 12 + 14 * static_cast<double>(i);
    svg << "<line x1=\"" << fmt(lx) << "\" y1=\"" << fmt(ly - 4) << "\" x2=\"" << fmt(lx + 15) << "\" y2=\""
        << fmt(ly - 4) << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n<text x=\"" << fmt(lx + 20)
        << "\" y=\"" << fmt(ly) << "\" font-size=\"10\">" << escape(s.name) << "</text>\n";
  }
}

// Empirical CDF, at most ~500 points.
std::vector<std::pair<double, double>> cdf(std::vector<double> values) {
  std::vector<std::pair<double, double>> points;
  if (values.empty()) return points;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const size_t stride = std::max<size_t>(1, n / 500);
  for (size_t i = 0; i < n; i += stride) points.emplace_back(values[i], static_cast<double>(i + 1) / n);
  if (points.back().second < 1) points.emplace_back(values.back(), 1.0);
  return points;
}

std::vector<double> metric(const RunReport& run, int which) {
  std::vector<double> out;
  for (const RequestRecord& r : run.records) {
    if (!r.success) continue;
    if (which == 0 && r.ttft_ms >= 0) out.push_back(r.ttft_ms);
    if (which == 1 && r.tpot_ms() >= 0) out.push_back(r.tpot_ms());
    if (which == 2) out.insert(out.end(), r.itl_ms.begin(), r.itl_ms.end());
    if (which == 3) out.push_back(r.e2e_ms);
  }
  return out;
}

}  // namespace

std::string svg_plot(const std::vector<RunReport>& runs, const std::string& title) {
  const double panel_w = 460, panel_h = 300;
  const bool sweep = runs.size() >= 2;
  const double width = 2 * panel_w, height = 40 + (sweep ? 3 : 2) * panel_h;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"" << width / 2
      << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" << escape(title) << "</text>\n";
  const char* names[] = {"TTFT", "TPOT", "ITL", "E2E latency"};
  for (int m = 0; m < 4; ++m) {
    std::vector<Series> series;
    for (const RunReport& run : runs) series.push_back({run.label, cdf(metric(run, m)), false});
    panel(svg, (m % 2) * panel_w, 40 + (m / 2) * panel_h, panel_w, panel_h, std::string(names[m]) + " CDF",
          std::string(names[m]) + " (ms)", "fraction of requests", series, 1.0);
  }
  if (sweep) {
    std::vector<std::string> groups;
    for (const RunReport& run : runs) {
      if (std::find(groups.begin(), groups.end(), run.group) == groups.end()) groups.push_back(run.group);
    }
    std::vector<Series> lat, tokens;
    for (const std::string& group : groups) {
      const std::string prefix = group.empty() ? "" : group + " ";
      Series e2e{prefix + "E2E median", {}, true}, e2e_p99{prefix + "E2E p99", {}, true},
          ttft{prefix + "TTFT median", {}, true}, tpot{prefix + "TPOT median", {}, true};
      for (const RunReport& run : runs) {
        const Summary& s = run.summary;
        if (run.group != group || s.completed == 0) continue;
        e2e.points.emplace_back(s.output_throughput, s.e2e_ms.median);
        e2e_p99.points.emplace_back(s.output_throughput, s.e2e_ms.p99);
        ttft.points.emplace_back(s.output_throughput, s.ttft_ms.median);
        tpot.points.emplace_back(s.output_throughput, s.tpot_ms.median);
      }
      for (Series* one : {&e2e, &e2e_p99, &ttft}) lat.push_back(std::move(*one));
      tokens.push_back(std::move(tpot));
    }
    panel(svg, 0, 40 + 2 * panel_h, panel_w, panel_h, "Latency vs throughput (one point per run)",
          "output throughput (tok/s)", "latency (ms)", lat, 0);
    panel(svg, panel_w, 40 + 2 * panel_h, panel_w, panel_h, "TPOT vs throughput", "output throughput (tok/s)",
          "TPOT (ms)", tokens, 0);
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace kvs::client
