// One place a value goes in a message being filled by reflection: a singular field, or one more
// element of a repeated field (maps included: their entries are a repeated message). The YAML
// walk (yaml_walker.h) sets every kind of value through it without caring which it is.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <cstdint>
#include <string>

namespace muzzle {

// Not owning: `message` outlives the slot.
struct ProtoSlot {
  google::protobuf::Message* message;
  const google::protobuf::FieldDescriptor* field;

  bool repeated() const { return field->is_repeated(); }
  const google::protobuf::Reflection* reflection() const { return message->GetReflection(); }
  google::protobuf::Message* mutableMessage() const {
    return repeated() ? reflection()->AddMessage(message, field)
                      : reflection()->MutableMessage(message, field);
  }
  void setInt32(int32_t v) const {
    repeated() ? reflection()->AddInt32(message, field, v)
               : reflection()->SetInt32(message, field, v);
  }
  void setInt64(int64_t v) const {
    repeated() ? reflection()->AddInt64(message, field, v)
               : reflection()->SetInt64(message, field, v);
  }
  void setUInt32(uint32_t v) const {
    repeated() ? reflection()->AddUInt32(message, field, v)
               : reflection()->SetUInt32(message, field, v);
  }
  void setUInt64(uint64_t v) const {
    repeated() ? reflection()->AddUInt64(message, field, v)
               : reflection()->SetUInt64(message, field, v);
  }
  void setFloat(float v) const {
    repeated() ? reflection()->AddFloat(message, field, v)
               : reflection()->SetFloat(message, field, v);
  }
  void setDouble(double v) const {
    repeated() ? reflection()->AddDouble(message, field, v)
               : reflection()->SetDouble(message, field, v);
  }
  void setBool(bool v) const {
    repeated() ? reflection()->AddBool(message, field, v)
               : reflection()->SetBool(message, field, v);
  }
  void setEnum(int v) const {
    repeated() ? reflection()->AddEnumValue(message, field, v)
               : reflection()->SetEnumValue(message, field, v);
  }
  void setString(std::string v) const {
    repeated() ? reflection()->AddString(message, field, std::move(v))
               : reflection()->SetString(message, field, std::move(v));
  }
};

}  // namespace muzzle
