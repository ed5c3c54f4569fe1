// The layout registry: one entry per layout, every name and alias parsed
// wherever layouts are named, and docs/models.md printing the same table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <shmyolo/detect/layouts.hpp>

#include "test_support.hpp"

using namespace shmyolo::detect;
using namespace shmyolo::test;

TEST(Layouts, EveryLayoutHasOneEntry) {
  std::set<OutputLayout> seen;
  for (const auto& spec : layouts()) {
    EXPECT_TRUE(seen.insert(spec.layout).second) << spec.name;
    EXPECT_EQ(spec_of(spec.layout).name, spec.name);
    EXPECT_NE(spec.decode, nullptr) << spec.name;
    EXPECT_NE(spec.num_classes, nullptr) << spec.name;
  }
  // OutputLayout's enumerators run from yolov5 to fastestv2 without gaps.
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(OutputLayout::fastestv2) + 1);
}

TEST(Layouts, NamesAndAliasesParseToTheirLayout) {
  std::set<std::string> names;
  for (const auto& spec : layouts()) {
    EXPECT_EQ(parse_layout(spec.name), spec.layout);
    EXPECT_EQ(to_string(spec.layout), spec.name);
    EXPECT_TRUE(names.insert(std::string(spec.name)).second) << spec.name;
    for (const auto alias : spec.aliases) {
      EXPECT_EQ(parse_layout(alias), spec.layout) << alias;
      EXPECT_TRUE(names.insert(std::string(alias)).second) << alias;
    }
  }
  EXPECT_EQ(names.size(), layout_names_and_aliases().size());
  EXPECT_FALSE(parse_layout("yolov99"));
  EXPECT_EQ(parse_layout("yolo11"), OutputLayout::yolov8);
}

TEST(Layouts, DocsTableIsTheRegistrysTable) {
  std::ifstream in(std::filesystem::path(source_dir()) / "docs/models.md");
  const std::string docs{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_NE(docs.find(layout_table_markdown()), std::string::npos)
      << "docs/models.md's layout table differs from the registry; paste `shmyolo models layouts`:\n"
      << layout_table_markdown();
}

TEST(Layouts, CliTakesEveryNameTheConfigTakes) {
  const auto model = std::filesystem::path(shared_dir()) / "models/yolo11n-320/yolo11n_320_fp32_from_int8.onnx";
  for (const auto& name : layout_names_and_aliases()) {
    const auto r = run({shmyolo_bin(), "models", "inspect", "--layout", name, model.string()});
    // yolo11n's output fits only yolov8's shape check; every other name must
    // be accepted by the CLI and then refused (if at all) by the loader.
    EXPECT_EQ(r.output.find("not in"), std::string::npos) << name << ": " << r.output;
    if (parse_layout(name) == OutputLayout::yolov8) {
      EXPECT_EQ(r.exit_code, 0) << name << ": " << r.output;
    }
  }
  const auto r = run({shmyolo_bin(), "models", "layouts"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, layout_table_markdown());
}
