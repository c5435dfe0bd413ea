// Every record of one topic, from the beginning to the end it has when the dump starts, one JSON line
// each in kcat's -J shape (topic, partition, offset, key, payload, headers as [name, value, ...]).
// The end-to-end tests' independent reader on the secured broker: Kafka's own Java client, where kcat's
// librdkafka before 2.6.1 cannot log in to Kafka 4 with SCRAM (it repeats the client nonce, which
// Kafka 4 refuses: librdkafka#4895, kcat#462), and Debian 12 ships 2.0.2.
//
//   java -cp '<kafka libs>/*' TopicDump.java <client.properties> <topic>
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class TopicDump {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        props.put("enable.auto.commit", "false");
        String topic = args[1];
        ObjectMapper json = new ObjectMapper();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + Duration.ofSeconds(50).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("not at the end within 50 s");
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.offset() >= ends.get(new TopicPartition(r.topic(), r.partition()))) continue;
                    ObjectNode line = json.createObjectNode();
                    line.put("topic", r.topic());
                    line.put("partition", r.partition());
                    line.put("offset", r.offset());
                    line.put("key", r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8));
                    line.put("payload", r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
                    ArrayNode headers = line.putArray("headers");
                    for (Header h : r.headers()) {
                        headers.add(h.key());
                        headers.add(h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
                    }
                    System.out.println(json.writeValueAsString(line));
                }
            }
        }
    }
}
