// Applies deploy/kafka/acls.tsv to a secured broker with Kafka's own Admin client, in one JVM (the
// broker's jars have no kafka-acls.sh tool; one JVM per ACL would add seconds to every start).
// Every ACL the broker holds is replaced by the table's, so a row removed from the table is revoked.
//
//   java -cp '<libs>/*' Acls.java <client.properties> <acls.tsv>
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Acls {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        List<AclBinding> wanted = new ArrayList<>();
        int number = 0;
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            number++;
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split("\t");
            if (f.length != 5) throw new IllegalArgumentException(args[1] + ":" + number + ": want 5 fields");
            ResourcePattern resource = new ResourcePattern(
                ResourceType.valueOf(f[1].toUpperCase(Locale.ROOT)),
                f[1].equals("cluster") ? "kafka-cluster" : f[3],
                PatternType.valueOf(f[2].toUpperCase(Locale.ROOT)));
            for (String op : f[4].split(",")) {
                AclOperation operation = AclOperation.fromString(op);
                if (operation == AclOperation.UNKNOWN) {
                    throw new IllegalArgumentException(args[1] + ":" + number + ": unknown operation " + op);
                }
                wanted.add(new AclBinding(resource, new AccessControlEntry(
                    "User:" + f[0], "*", operation, AclPermissionType.ALLOW)));
            }
        }
        try (Admin admin = Admin.create(props)) {
            admin.deleteAcls(List.of(AclBindingFilter.ANY)).all().get(60, TimeUnit.SECONDS);
            admin.createAcls(wanted).all().get(60, TimeUnit.SECONDS);
        }
        System.out.println(wanted.size());
    }
}
