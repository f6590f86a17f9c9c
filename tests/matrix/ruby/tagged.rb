# frozen_string_literal: true

require "json"

# Tagged JSON (tests/matrix/README.md) <-> Ruby values. Ruby's JSON already keeps 2.0 apart
# from 2, so the tags only need writing out: {"$float": x} is a Float, {"$int": "123"} an
# Integer, everything else is itself.
module Tagged
  module_function

  # Tagged JSON (as parsed by JSON.parse) -> the Ruby value a program sends.
  def decode(value)
    case value
    when Hash
      return Float(value["$float"]) if value.size == 1 && value.key?("$float")
      return Integer(value["$int"]) if value.size == 1 && value.key?("$int")

      value.transform_values { |v| decode(v) }
    when Array then value.map { |v| decode(v) }
    else value
    end
  end

  # A Ruby value as received -> tagged JSON (for JSON.generate).
  def encode(value)
    case value
    when nil, true, false, Integer, String then value
    when Float then { "$float" => value }
    when Array then value.map { |v| encode(v) }
    when Hash
      value.to_h do |k, v|
        raise TypeError, "map key #{k.inspect} is not a String: no JSON form" unless k.is_a?(String)

        [k, encode(v)]
      end
    else raise TypeError, "no tagged JSON form for a #{value.class}: #{value.inspect}"
    end
  end

  # A received value as tagged JSON text (NaN and Infinity allowed: the driver reads them).
  def dump(value, ascii_only: false)
    JSON.generate(encode(value), allow_nan: true, ascii_only: ascii_only)
  end
end
