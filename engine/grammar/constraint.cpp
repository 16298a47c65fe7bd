#include "engine/grammar/constraint.h"

#include "engine/errors.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/regex_to_gbnf.h"

namespace kvs::grammar {

std::string constraint_to_gbnf(const ConstraintSpec& spec) {
  switch (spec.kind) {
    case ConstraintSpec::Kind::kJsonObject: return json_object_gbnf();
    case ConstraintSpec::Kind::kJsonSchema: return json_schema_to_gbnf(spec.text);
    case ConstraintSpec::Kind::kRegex: return regex_to_gbnf(spec.text);
    case ConstraintSpec::Kind::kChoice: return choice_to_gbnf(spec.choices);
    case ConstraintSpec::Kind::kGbnf: return spec.text;
  }
  throw InvalidArgument("constraint: unknown kind");
}

}  // namespace kvs::grammar
