// Lowerings that emit no runtime node (importer.hpp): Constant, an If whose
// condition is a constant (the branch it takes is inlined), Shape, Identity
// and Dropout.
#include "importer.hpp"

namespace quanta::convert::importer {

Status Importer::lower_constant() {
  const auto& a = cur_->attribute();
  if (a.size() != 1) return invalid("a Constant needs exactly one value attribute");
  const auto& at = a.Get(0);
  HostTensor h;
  const std::string& k = at.name();
  if (k == "value") {
    auto t = detail::tensor_from_proto(at.t(), base_dir_, where() + " value");
    if (!t) return t.status();
    h = std::move(*t);
  } else if (k == "value_float") {
    h.v = {at.f()};
  } else if (k == "value_floats") {
    h.v.assign(at.floats().begin(), at.floats().end());
    h.shape = {static_cast<int64_t>(h.v.size())};
  } else if (k == "value_int") {
    h.is_int = true;
    h.v = {static_cast<double>(at.i())};
  } else if (k == "value_ints") {
    h.is_int = true;
    for (int64_t x : at.ints()) h.v.push_back(static_cast<double>(x));
    h.shape = {static_cast<int64_t>(h.v.size())};
  } else {
    return unsupported(fmt::format("attribute '{}' is not supported (supported: value, "
                                   "value_float, value_floats, value_int, value_ints)", k));
  }
  if (Status s = check_folded(h, out_name()); !s.ok()) return s;
  set_const(out_name(), std::move(h));
  return Status::Ok();
}

// An If whose condition folds to a constant (torch exports `squeeze(dim)` as
// Shape -> Gather -> Equal -> If): the taken branch is inlined.
Status Importer::lower_if() {
  QUANTA_CONVERT_TRY_ATTRS({"then_branch", "else_branch"});
  auto c = need_input(0, "cond");
  if (!c) return c.status();
  if (!(*c)->is_const || (*c)->c.size() != 1) {
    return unsupported("the condition is not a constant: only an If whose condition is known "
                       "when converting (it is then replaced by the branch it takes) is supported");
  }
  const bool taken = (*c)->c.v[0] != 0;
  const onnx::AttributeProto* a = attr(taken ? "then_branch" : "else_branch");
  if (a == nullptr || !a->has_g()) {
    return invalid(fmt::format("attribute '{}' (a graph) is missing", taken ? "then_branch" : "else_branch"));
  }
  const onnx::GraphProto& br = a->g();
  if (br.output_size() != cur_->output_size()) {
    return invalid(fmt::format("the {} branch has {} outputs; the If has {}", taken ? "then" : "else",
                               br.output_size(), cur_->output_size()));
  }
  if (++if_depth_ > 16) return unsupported("If branches nested more than 16 deep");
  for (const auto& t : br.initializer()) {
    auto h = detail::tensor_from_proto(t, base_dir_, fmt::format("initializer '{}'", t.name()));
    if (!h) return h.status();
    if (Status s = check_initializer(*h, t.name()); !s.ok()) return s;
    set_const(t.name(), std::move(*h));
  }
  for (const auto& node : br.node()) {
    for (const auto& in : node.input()) {
      if (!in.empty()) ++uses_[in];
    }
  }
  for (const auto& o : br.output()) ++uses_[o.name()];
  const onnx::NodeProto* outer = cur_;
  const std::string outer_name = cur_name_;
  int k = 0;
  for (const auto& node : br.node()) {
    cur_ = &node;
    cur_name_ = node.name().empty() ? fmt::format("{}/{}_{}", outer_name, node.op_type(), k) : node.name();
    ++k;
    if (Status s = lower_node(node); !s.ok()) {
      cur_ = outer;
      cur_name_ = outer_name;
      return s;
    }
  }
  cur_ = outer;
  cur_name_ = outer_name;
  --if_depth_;
  for (int i = 0; i < br.output_size(); ++i) {
    auto it = values_.find(br.output(i).name());
    if (it == values_.end()) {
      return invalid(fmt::format("branch output '{}' is not produced", br.output(i).name()));
    }
    Value copy = it->second;
    copy.producer = -1;
    if (Status s = alias(out_name(static_cast<size_t>(i)), copy); !s.ok()) return s;
  }
  g_->log.rewrites.push_back(fmt::format("inlined the {} branch of If '{}' (its condition is "
                                         "constant)", taken ? "then" : "else", cur_name_));
  return Status::Ok();
}

Status Importer::lower_shape() {
  QUANTA_CONVERT_TRY_ATTRS({"start", "end"});
  auto x = need_input(0, "data");
  if (!x) return x.status();
  set_const(out_name(), detail::shape_of((*x)->is_const ? (*x)->c.shape : (*x)->shape, *cur_));
  return Status::Ok();
}

Status Importer::lower_identity() {
  if (cur_->op_type() == "Dropout") {
    QUANTA_CONVERT_TRY_ATTRS({"ratio", "seed", "is_test"});
    if (has_input(2)) {
      auto t = need_const(2, "training_mode");
      if (!t) return t.status();
      if (!(*t)->v.empty() && (*t)->v[0] != 0) {
        return unsupported("training_mode is true; only inference (training_mode false) is "
                           "supported");
      }
    }
    if (opset_ < 7 && attr_i("is_test", 1) == 0) return unsupported("is_test = 0");
  } else {
    QUANTA_CONVERT_TRY_ATTRS({});
  }
  if (Status s = only_first_output(); !s.ok()) return s;
  auto x = need_input(0, "input");
  if (!x) return x.status();
  Value copy = **x;
  copy.producer = -1;  // an alias is read by more than the producer's sole consumer
  if (Status s = alias(out_name(), copy); !s.ok()) return s;
  g_->log.rewrites.push_back(fmt::format("removed {} '{}'", cur_->op_type(), cur_name_));
  return Status::Ok();
}

}  // namespace quanta::convert::importer
