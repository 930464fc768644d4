// A record written by Kafka's own Java client (kafka-clients from the harness jars), for the
// header-order conformance case (test/conformance/adapter-suite.ts): kafkajs's producer cannot
// write interleaved repeated header names, the reference client can.
//
//   java -cp '.kafka/lib/*' test/kafka/HeaderProducer.java BOOTSTRAP TOPIC KEY VALUE NAME=VALUE...
//
// Headers are written in argument order (names may repeat); prints the record's partition:offset.
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class HeaderProducer {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("acks", "all");
    props.put("key.serializer", ByteArraySerializer.class.getName());
    props.put("value.serializer", ByteArraySerializer.class.getName());
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      ProducerRecord<byte[], byte[]> record =
          new ProducerRecord<>(args[1], 0, args[2].getBytes(StandardCharsets.UTF_8), args[3].getBytes(StandardCharsets.UTF_8));
      for (int i = 4; i < args.length; i++) {
        int eq = args[i].indexOf('=');
        record.headers().add(args[i].substring(0, eq), args[i].substring(eq + 1).getBytes(StandardCharsets.UTF_8));
      }
      RecordMetadata m = producer.send(record).get();
      System.out.println(m.partition() + ":" + m.offset());
    }
  }
}
